package domain

import (
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/kinshiphq/kinship/internal/validate"
)

// ActivitySourceKind says what an activity source's webhook receives and how it
// is signed.
type ActivitySourceKind string

// Source kinds.
const (
	SourceDiscourse ActivitySourceKind = "discourse"
	SourceGitHub    ActivitySourceKind = "github"
	SourceGeneric   ActivitySourceKind = "generic"
)

// ProviderGitHub is the provider of handles from every GitHub source: a
// GitHub login is the same across repositories and organisations.
const ProviderGitHub = "github"

// MaxSources bounds a community's activity sources.
const MaxSources = 50

// ActivitySource is a tool a community uses that sends its activity to a
// signed webhook.
type ActivitySource struct {
	Community string
	// Name is part of the webhook's path: /ingest/<community>/<name>.
	Name string
	Kind ActivitySourceKind
	// Secret signs deliveries; PreviousSecret still does until
	// PreviousExpiresAt, after a rotation.
	Secret            string
	PreviousSecret    string
	PreviousExpiresAt time.Time
	CreatedAt         time.Time
	LastDeliveryAt    time.Time
}

// Provider is the namespace the source's handles are matched in: "github"
// for GitHub sources, the source's own name otherwise (a forum's
// usernames are its own).
func (s ActivitySource) Provider() string {
	if s.Kind == SourceGitHub {
		return ProviderGitHub
	}
	return s.Name
}

// Secrets are the secrets that sign a delivery at now: the current one,
// and the previous one until it expires.
func (s ActivitySource) Secrets(now time.Time) []string {
	out := []string{s.Secret}
	if s.PreviousSecret != "" && now.Before(s.PreviousExpiresAt) {
		out = append(out, s.PreviousSecret)
	}
	return out
}

// sourceName is the form of source names: they appear in URLs.
var sourceName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidateSourceName checks a source's name.
func ValidateSourceName(field, raw string) (string, *validate.FieldError) {
	name := strings.TrimSpace(raw)
	if name == "" {
		return "", validate.Field(field, "is required")
	}
	if len(name) > 40 || !sourceName.MatchString(name) {
		return "", validate.Field(field, "must be 1 to 40 lower-case letters, digits and single dashes, such as \"forum\"")
	}
	return name, nil
}

// ParseSourceKind reads a source kind.
func ParseSourceKind(raw string) (ActivitySourceKind, *validate.FieldError) {
	switch k := ActivitySourceKind(raw); k {
	case SourceDiscourse, SourceGitHub, SourceGeneric:
		return k, nil
	}
	return "", validate.Field("kind", "must be discourse, github or generic")
}

// Handle is a member's name at a provider: a GitHub login, a forum
// username.
type Handle struct {
	Community string
	MemberID  string
	Provider  string
	Handle    string
	LinkedAt  time.Time
}

// HandleKey is how handles are matched: ignoring case, as GitHub and
// Discourse do.
func HandleKey(handle string) string { return strings.ToLower(handle) }

// ValidateHandle checks a provider and a handle.
func ValidateHandle(provider, handle string) (string, string, error) {
	var errs validate.Errors
	p, ferr := ValidateSourceName("provider", provider)
	if ferr != nil {
		errs = append(errs, validate.Field("provider", "must be \"github\" or the name of an activity source"))
	}
	h := strings.TrimSpace(handle)
	switch {
	case h == "":
		errs = append(errs, validate.Field("handle", "is required"))
	case len([]rune(h)) > 100 || strings.ContainsFunc(h, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		errs = append(errs, validate.Field("handle", "must be 1 to 100 characters without spaces"))
	}
	return p, h, errs.Err()
}

// Identity is who an activity from outside is about, as its source says.
// At most one way is used, in this order: a member id, a verified e-mail
// address, a handle at a provider.
type Identity struct {
	MemberID string
	Email    string
	Provider string
	Handle   string
}

// IsZero reports whether id names nobody.
func (id Identity) IsZero() bool {
	return id.MemberID == "" && id.Email == "" && (id.Provider == "" || id.Handle == "")
}

// Errors of integrations.
var (
	ErrSourceNotFound = errors.New("activity source not found")
	ErrSourceExists   = errors.New("an activity source of this name exists")
	ErrHandleTaken    = errors.New("another member of the community has linked this handle")
	ErrTooManySources = errors.New("the community has as many activity sources as it may")
)

// Delivery outcomes.
const (
	DeliveryRecorded  = "recorded"
	DeliveryUnmatched = "unmatched"
	DeliveryIgnored   = "ignored"
)

// Delivery is what became of one webhook delivery of a source.
type Delivery struct {
	Community  string
	Source     string
	DeliveryID string
	Event      string
	ReceivedAt time.Time
	Outcome    string
	Reason     string
	Recorded   int
	Unmatched  int
}

// Pending is an activity from outside kept until its person is known.
type Pending struct {
	ID         string
	Community  string
	Source     string
	Who        Identity
	Activity   Activity
	ReceivedAt time.Time
}
