// Package domain holds the partners service's entities and rules: partner
// organisations and their pipeline, the stakeholder map, contacts,
// agreements, contributions and interactions. It does no I/O.
package domain

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/language"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Errors the partners service reports.
var (
	ErrUnknownCommunity  = errors.New("unknown community")
	ErrPartnerNotFound   = errors.New("partner not found")
	ErrUnknownPartner    = errors.New("the partner is not in the community")
	ErrUnknownContact    = errors.New("a contact is not a contact of the partner, or was erased")
	ErrNameTaken         = errors.New("a partner with this name already belongs to the community")
	ErrConflict          = errors.New("the record changed meanwhile; read it again and retry")
	ErrContactNotFound   = errors.New("contact not found")
	ErrContactErased     = errors.New("the contact was erased")
	ErrAgreementNotFound = errors.New("agreement not found")
)

// Limits on what organisers may submit.
const (
	MaxNameLength = 200
	MaxIDLength   = 64
)

// PartnerKind is what sort of organisation a partner is.
type PartnerKind string

// Kinds of partner.
const (
	KindSponsor        PartnerKind = "sponsor"
	KindNGO            PartnerKind = "ngo"
	KindPublicBody     PartnerKind = "public_body"
	KindBusiness       PartnerKind = "business"
	KindEducation      PartnerKind = "education" // a school or university
	KindMedia          PartnerKind = "media"
	KindCommunityGroup PartnerKind = "community_group"
)

// PartnerKinds lists every kind.
func PartnerKinds() []PartnerKind {
	return []PartnerKind{KindSponsor, KindNGO, KindPublicBody, KindBusiness, KindEducation, KindMedia, KindCommunityGroup}
}

// Status is where a partner is in the pipeline.
type Status string

// The pipeline: prospect → in conversation → active → lapsed, and a lapsed
// partner back into conversation.
const (
	StatusProspect       Status = "prospect"
	StatusInConversation Status = "in_conversation"
	StatusActive         Status = "active"
	StatusLapsed         Status = "lapsed"
)

// Statuses lists every status in pipeline order.
func Statuses() []Status {
	return []Status{StatusProspect, StatusInConversation, StatusActive, StatusLapsed}
}

// next says where each status may move.
var next = map[Status][]Status{
	StatusProspect:       {StatusInConversation},
	StatusInConversation: {StatusActive},
	StatusActive:         {StatusLapsed},
	StatusLapsed:         {StatusInConversation},
}

// CheckMove reports, as an error on the status field, why a partner may
// not move from one status to another; nil when it may.
func CheckMove(from, to Status) *validate.FieldError {
	if !slices.Contains(Statuses(), to) {
		return validate.Field("status", "must be prospect, in_conversation, active or lapsed")
	}
	if from == to {
		return validate.Field("status", "the partner is already %s", to)
	}
	if slices.Contains(next[from], to) {
		return nil
	}
	allowed := make([]string, len(next[from]))
	for i, s := range next[from] {
		allowed[i] = string(s)
	}
	return validate.Field("status", "a partner cannot move from %s to %s without passing the pipeline (prospect → in_conversation → active → lapsed); from %s it may move to %s",
		from, to, from, strings.Join(allowed, " or "))
}

// Quadrant is a stakeholder's Mendelow quadrant.
type Quadrant string

// The quadrants; QuadrantNone is a partner not assessed yet.
const (
	QuadrantNone          Quadrant = ""
	QuadrantManageClosely Quadrant = "manage_closely"
	QuadrantKeepSatisfied Quadrant = "keep_satisfied"
	QuadrantKeepInformed  Quadrant = "keep_informed"
	QuadrantMonitor       Quadrant = "monitor"
)

// Quadrants lists the assessed quadrants, manage closely first.
func Quadrants() []Quadrant {
	return []Quadrant{QuadrantManageClosely, QuadrantKeepSatisfied, QuadrantKeepInformed, QuadrantMonitor}
}

// Scores of the stakeholder map run from MinScore to MaxScore; HighScore
// and above count as high.
const (
	MinScore  = 1
	MaxScore  = 5
	HighScore = 4
)

// Stakeholder is a partner's place on the stakeholder map. Influence and
// interest are both 0 when the partner is not assessed yet.
type Stakeholder struct {
	Influence  int
	Interest   int
	OwnerID    string
	NextReview Date
}

// Assessed reports whether influence and interest were given.
func (s Stakeholder) Assessed() bool { return s.Influence != 0 && s.Interest != 0 }

// Quadrant derives the Mendelow quadrant from influence (power) and
// interest.
func (s Stakeholder) Quadrant() Quadrant {
	if !s.Assessed() {
		return QuadrantNone
	}
	high := func(score int) bool { return score >= HighScore }
	switch {
	case high(s.Influence) && high(s.Interest):
		return QuadrantManageClosely
	case high(s.Influence):
		return QuadrantKeepSatisfied
	case high(s.Interest):
		return QuadrantKeepInformed
	}
	return QuadrantMonitor
}

// Partner is an organisation the community works with, or hopes to.
type Partner struct {
	ID          string
	Community   string
	Name        string
	Kind        PartnerKind
	Sector      string
	Website     string
	CountryCode string
	Status      Status
	Stakeholder Stakeholder
	AddedAt     time.Time
	UpdatedAt   time.Time
}

// PartnerInput is what an organiser submits about a partner; dates are
// still text, so every error can name its field.
type PartnerInput struct {
	Name           string
	Kind           PartnerKind
	Sector         string
	Website        string
	CountryCode    string
	Influence      int
	Interest       int
	OwnerID        string
	NextReviewDate string
}

// Input returns p as an input, for merging an update into.
func (p Partner) Input() PartnerInput {
	s := p.Stakeholder
	return PartnerInput{Name: p.Name, Kind: p.Kind, Sector: p.Sector, Website: p.Website, CountryCode: p.CountryCode,
		Influence: s.Influence, Interest: s.Interest, OwnerID: s.OwnerID, NextReviewDate: s.NextReview.String()}
}

// NewPartner validates in and returns the prospect it describes. Every
// invalid field is reported at once.
func NewPartner(community string, in PartnerInput, id string, now time.Time) (Partner, error) {
	var errs validate.Errors
	c, ferr := validate.Community(community)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	p, err := in.apply(Partner{ID: id, Community: c, Status: StatusProspect})
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return Partner{}, err
	}
	p.AddedAt = now.UTC().Truncate(time.Microsecond)
	p.UpdatedAt = p.AddedAt
	return p, nil
}

// Update returns p with the validated fields of in; status, ids and times
// stay.
func (p Partner) Update(in PartnerInput) (Partner, error) { return in.apply(p) }

func (in PartnerInput) apply(p Partner) (Partner, error) {
	var errs validate.Errors
	add := func(ferr *validate.FieldError) {
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	var ferr *validate.FieldError
	p.Name, ferr = validate.Text("name", in.Name, 1, MaxNameLength)
	add(ferr)
	if !slices.Contains(PartnerKinds(), in.Kind) {
		add(validate.Field("kind", "must be sponsor, ngo, public_body, business, education, media or community_group"))
	}
	p.Kind = in.Kind
	p.Sector, ferr = validate.Text("sector", in.Sector, 0, 100)
	add(ferr)
	p.Website, ferr = ValidateURL("website", in.Website)
	add(ferr)
	p.CountryCode, ferr = ValidateCountry("country_code", in.CountryCode)
	add(ferr)
	s, serrs := validateStakeholder(in)
	errs = append(errs, serrs...)
	p.Stakeholder = s
	return p, errs.Err()
}

func validateStakeholder(in PartnerInput) (Stakeholder, validate.Errors) {
	var errs validate.Errors
	score := func(field string, v, other int, otherField string) {
		switch {
		case v == 0 && other == 0:
		case v == 0:
			errs = append(errs, validate.Field(field, "is required with %s (both 1 to 5, or both 0 for not assessed)", otherField))
		case v < MinScore || v > MaxScore:
			errs = append(errs, validate.Field(field, "must be between %d and %d", MinScore, MaxScore))
		}
	}
	score("stakeholder.influence", in.Influence, in.Interest, "stakeholder.interest")
	score("stakeholder.interest", in.Interest, in.Influence, "stakeholder.influence")
	owner, ferr := ValidateID("stakeholder.owner_id", in.OwnerID, false)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	review, ferr := ParseDate("stakeholder.next_review_date", in.NextReviewDate)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	return Stakeholder{Influence: in.Influence, Interest: in.Interest, OwnerID: owner, NextReview: review}, errs
}

// PartnerPaths are the update-mask paths of a partner.
func PartnerPaths() []string {
	return []string{"name", "kind", "sector", "website", "country_code", "stakeholder", "stakeholder.influence",
		"stakeholder.interest", "stakeholder.owner_id", "stakeholder.next_review_date"}
}

// MergePartner returns current with the masked paths taken from update.
func MergePartner(current, update PartnerInput, paths []string) (PartnerInput, error) {
	if len(paths) == 0 {
		return current, validate.Field("update_mask", "names no field; give paths such as name or stakeholder.influence")
	}
	out := current
	for _, path := range paths {
		switch path {
		case "name":
			out.Name = update.Name
		case "kind":
			out.Kind = update.Kind
		case "sector":
			out.Sector = update.Sector
		case "website":
			out.Website = update.Website
		case "country_code":
			out.CountryCode = update.CountryCode
		case "stakeholder":
			out.Influence, out.Interest, out.OwnerID, out.NextReviewDate = update.Influence, update.Interest, update.OwnerID, update.NextReviewDate
		case "stakeholder.influence":
			out.Influence = update.Influence
		case "stakeholder.interest":
			out.Interest = update.Interest
		case "stakeholder.owner_id":
			out.OwnerID = update.OwnerID
		case "stakeholder.next_review_date":
			out.NextReviewDate = update.NextReviewDate
		default:
			return current, validate.Field("update_mask", "path %q is not one of %s", path, strings.Join(PartnerPaths(), ", "))
		}
	}
	return out, nil
}

// ChangedPartner lists the paths whose values differ between a and b.
func ChangedPartner(a, b Partner) []string {
	var out []string
	for _, c := range []struct {
		path string
		same bool
	}{
		{"name", a.Name == b.Name}, {"kind", a.Kind == b.Kind}, {"sector", a.Sector == b.Sector},
		{"website", a.Website == b.Website}, {"country_code", a.CountryCode == b.CountryCode},
		{"stakeholder.influence", a.Stakeholder.Influence == b.Stakeholder.Influence},
		{"stakeholder.interest", a.Stakeholder.Interest == b.Stakeholder.Interest},
		{"stakeholder.owner_id", a.Stakeholder.OwnerID == b.Stakeholder.OwnerID},
		{"stakeholder.next_review_date", a.Stakeholder.NextReview == b.Stakeholder.NextReview},
	} {
		if !c.same {
			out = append(out, c.path)
		}
	}
	return out
}

// StatusChange is one move along the pipeline; From is empty for the
// partner's first status.
type StatusChange struct {
	PartnerID string
	From, To  Status
	ChangedAt time.Time
	ChangedBy string
	Note      string
}

// NewStatusChange validates a move of p to status to by changedBy.
func NewStatusChange(p Partner, to Status, note, changedBy string, now time.Time) (StatusChange, error) {
	var errs validate.Errors
	if ferr := CheckMove(p.Status, to); ferr != nil {
		errs = append(errs, ferr)
	}
	note, ferr := validate.Text("note", note, 0, 500)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return StatusChange{}, err
	}
	return StatusChange{PartnerID: p.ID, From: p.Status, To: to, ChangedAt: now.UTC().Truncate(time.Microsecond), ChangedBy: changedBy, Note: note}, nil
}

// ValidateURL checks an optional http(s) URL of at most 2000 characters.
func ValidateURL(field, raw string) (string, *validate.FieldError) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", nil
	}
	if len(s) > 2000 {
		return "", validate.Field(field, "must be at most 2000 characters")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsFunc(s, unicode.IsSpace) {
		return "", validate.Field(field, "is not an http(s) URL such as https://example.org")
	}
	return s, nil
}

// ValidateCountry checks an optional ISO 3166-1 alpha-2 code, upper-cased.
func ValidateCountry(field, raw string) (string, *validate.FieldError) {
	code := strings.ToUpper(strings.TrimSpace(raw))
	if code == "" {
		return "", nil
	}
	r, err := language.ParseRegion(code)
	if len(code) != 2 || err != nil || !r.IsCountry() || r.String() != code {
		return "", validate.Field(field, "is not an ISO 3166-1 alpha-2 country code such as DE")
	}
	return code, nil
}

// ValidateID checks an opaque id (a user, member, event or contact id):
// 1 to 64 printable characters without spaces; empty is allowed unless
// required.
func ValidateID(field, raw string, required bool) (string, *validate.FieldError) {
	s := strings.TrimSpace(raw)
	switch {
	case s == "" && required:
		return "", validate.Field(field, "is required")
	case s == "":
		return "", nil
	case len(s) > MaxIDLength:
		return "", validate.Field(field, "must be at most %d characters", MaxIDLength)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return "", validate.Field(field, "must not contain spaces or control characters")
	}
	return s, nil
}

// String is the status's stored name.
func (s Status) String() string { return string(s) }
