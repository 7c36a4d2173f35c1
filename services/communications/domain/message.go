// Package domain holds the communications service's entities and rules. It
// does no I/O.
package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Status is a message's delivery state.
type Status int

// Delivery states: pending until the mail server accepted it (sent),
// refused it for good or ran out of retries (failed), or it was not sent at
// all (suppressed); a sent message may bounce later (bounced). A bulk
// e-mail found in doubt after a crash (see InDoubtPolicy) ends in_doubt.
const (
	StatusPending Status = iota + 1
	StatusSent
	StatusFailed
	StatusBounced
	StatusSuppressed
	StatusInDoubt
)

var statusNames = map[Status]string{StatusPending: "pending", StatusSent: "sent", StatusFailed: "failed",
	StatusBounced: "bounced", StatusSuppressed: "suppressed", StatusInDoubt: "in_doubt"}

// String is the status's stored name.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "unknown"
}

// ParseStatus reads a stored status name.
func ParseStatus(name string) (Status, error) {
	for s, n := range statusNames {
		if n == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown message status %q", name)
}

// Message is one message to one recipient: an e-mail to a member, or a
// post to a webhook.
type Message struct {
	ID             string
	Community      string
	IdempotencyKey string
	// Fingerprint identifies the request's content, so a key reused for a
	// different message is caught.
	Fingerprint string
	MemberID    string
	// To is the address, or the webhook id.
	To      string
	Subject string
	Text    string
	HTML    string
	// Template and Vars are rendered at send time when Subject is empty.
	Template       string
	Vars           map[string]string
	Kind           Kind
	Channel        Channel
	AnnouncementID string
	Status         Status
	FailureReason  string
	Attempts       int
	CreatedAt      time.Time
	// DueAt is when the message may go (send_at, end of quiet hours, next
	// retry); zero means now.
	DueAt  time.Time
	SentAt time.Time
	// SendingAt is when the last attempt began handing the e-mail to the
	// mail server (zero: none under way or unrecorded). A message claimed
	// with it set was left in doubt by a crash; SendingAttempt is that
	// attempt's number.
	SendingAt      time.Time
	SendingAttempt int
}

// Limits on a message.
const (
	MaxKeyLength      = 200
	MaxMemberIDLength = 64
	MaxSubjectLength  = 200
	MaxTextBytes      = 100 << 10
)

// Errors the communications service reports.
var (
	ErrUnknownCommunity = errors.New("unknown community")
	ErrKeyReused        = errors.New("the idempotency key was already used for a different message")
	ErrInProgress       = errors.New("a delivery with this idempotency key is in progress; retry later")
	ErrNotFound         = errors.New("message not found")
	ErrNotSent          = errors.New("only a sent message can bounce")
	// ErrNoSuchMember means a member id names no recipient of the
	// community the call is made in — whether it is unknown or a member
	// of another community is not told.
	ErrNoSuchMember = errors.New("member_id: no member of the community has this id")
)

// SendRequest is what a caller asks to send.
type SendRequest struct {
	Community      string
	IdempotencyKey string
	MemberID       string
	To             string
	Subject        string
	Text           string
	Template       string
	Vars           map[string]string
}

// NewMessage validates req and returns the pending transactional message
// it describes: given content, or a template rendered at send time. It
// goes to the member's confirmed address (see Decide), never to another.
func NewMessage(req SendRequest, id string, now time.Time) (Message, error) {
	if req.Template != "" {
		return newTemplated(req, id, now)
	}
	var errs validate.Errors
	community, ferr := validate.Slug("community", req.Community, 63)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if ferr := checkKey(req.IdempotencyKey); ferr != nil {
		errs = append(errs, ferr)
	}
	memberID, ferr := validate.Text("member_id", req.MemberID, 1, MaxMemberIDLength)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	// The mail goes to the member's confirmed address in the recipients
	// projection; to_email, when given, is checked and kept as asked.
	to := ""
	if req.To != "" {
		if to, ferr = validate.Email("to_email", req.To); ferr != nil {
			errs = append(errs, ferr)
		}
	}
	subject, ferr := validate.Text("subject", req.Subject, 1, MaxSubjectLength)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	switch {
	case req.Text == "":
		errs = append(errs, validate.Field("text_body", "is required"))
	case len(req.Text) > MaxTextBytes:
		errs = append(errs, validate.Field("text_body", "must be at most %d bytes", MaxTextBytes))
	case !utf8.ValidString(req.Text):
		errs = append(errs, validate.Field("text_body", "must be valid UTF-8"))
	}
	if err := errs.Err(); err != nil {
		return Message{}, err
	}
	m := Message{
		ID:             id,
		Community:      community,
		IdempotencyKey: req.IdempotencyKey,
		MemberID:       memberID,
		To:             to,
		Subject:        subject,
		Text:           req.Text,
		Kind:           KindTransactional,
		Channel:        ChannelEmail,
		Status:         StatusPending,
		CreatedAt:      now.UTC().Truncate(time.Microsecond),
	}
	m.Fingerprint = fingerprint(m)
	return m, nil
}

// newTemplated validates a templated send; the address may come from the
// recipients projection later.
func newTemplated(req SendRequest, id string, now time.Time) (Message, error) {
	var errs validate.Errors
	community, ferr := validate.Slug("community", req.Community, 63)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if ferr := checkKey(req.IdempotencyKey); ferr != nil {
		errs = append(errs, ferr)
	}
	memberID, ferr := validate.Text("member_id", req.MemberID, 1, MaxMemberIDLength)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	to := ""
	if req.To != "" {
		if to, ferr = validate.Email("to_email", req.To); ferr != nil {
			errs = append(errs, ferr)
		}
	}
	if req.Subject != "" || req.Text != "" {
		errs = append(errs, validate.Field("template", "give a template or a subject and body, not both"))
	}
	name, ferr := validate.Slug("template", req.Template, 63)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if ferr := checkVars(req.Vars); ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return Message{}, err
	}
	m := Message{
		ID: id, Community: community, IdempotencyKey: req.IdempotencyKey, MemberID: memberID, To: to,
		Template: name, Vars: req.Vars, Kind: KindTransactional, Channel: ChannelEmail, Status: StatusPending,
		CreatedAt: now.UTC().Truncate(time.Microsecond),
	}
	m.Fingerprint = fingerprint(m)
	return m, nil
}

// checkVars bounds template variables.
func checkVars(vars map[string]string) *validate.FieldError {
	if len(vars) > 50 {
		return validate.Field("variables", "must be at most 50")
	}
	for k, v := range vars {
		if _, ferr := validate.Slug("variables", strings.ReplaceAll(k, "_", "-"), 40); ferr != nil {
			return validate.Field("variables", "names must be lower-case letters, digits, dashes and underscores")
		}
		if len(v) > 2000 {
			return validate.Field("variables", "values must be at most 2000 bytes")
		}
	}
	return nil
}

func checkKey(key string) *validate.FieldError {
	switch {
	case key == "":
		return validate.Field("idempotency_key", "is required")
	case len(key) > MaxKeyLength:
		return validate.Field("idempotency_key", "must be at most %d characters", MaxKeyLength)
	case strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0:
		return validate.Field("idempotency_key", "must be printable ASCII without spaces")
	}
	return nil
}

func fingerprint(m Message) string {
	h := sha256.New()
	for _, part := range []string{m.MemberID, m.To, m.Subject, m.Text, m.Template} {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	keys := make([]string, 0, len(m.Vars))
	for k := range m.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s=%d:%s", len(k), k, len(m.Vars[k]), m.Vars[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}
