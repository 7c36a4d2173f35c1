package domain

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kinshiphq/kinship/internal/validate"
)

// InteractionKind is how the community and a partner talked.
type InteractionKind string

// Kinds of interaction.
const (
	InteractionMeeting InteractionKind = "meeting"
	InteractionCall    InteractionKind = "call"
	InteractionEmail   InteractionKind = "email"
)

// InteractionKinds lists every kind.
func InteractionKinds() []InteractionKind {
	return []InteractionKind{InteractionMeeting, InteractionCall, InteractionEmail}
}

// Limits of an interaction.
const (
	MaxParticipants = 20
	MaxNotesLength  = 5000
)

// Interaction is one meeting, call or e-mail with a partner. Notes are
// free text and may name people: they never leave the service but through
// its API.
type Interaction struct {
	ID           string
	Community    string
	PartnerID    string
	Kind         InteractionKind
	OccurredAt   time.Time
	OrganiserIDs []string
	ContactIDs   []string
	Notes        string
	RecordedBy   string
	RecordedAt   time.Time
}

// InteractionInput is what an organiser submits about an interaction.
type InteractionInput struct {
	PartnerID    string
	Kind         InteractionKind
	OccurredAt   time.Time
	OrganiserIDs []string
	ContactIDs   []string
	Notes        string
}

// NewInteraction validates in: a kind, a time not more than a day ahead,
// at least one participant and at most 20 organisers and 20 contacts, and
// notes of at most 5000 characters (line breaks allowed).
func NewInteraction(community string, in InteractionInput, id, recordedBy string, now time.Time) (Interaction, error) {
	var errs validate.Errors
	add := func(ferr *validate.FieldError) {
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	i := Interaction{ID: id, Community: community, Kind: in.Kind, RecordedBy: recordedBy, RecordedAt: now.UTC().Truncate(time.Microsecond)}
	var ferr *validate.FieldError
	i.PartnerID, ferr = ValidateID("partner_id", in.PartnerID, true)
	add(ferr)
	if !slices.Contains(InteractionKinds(), in.Kind) {
		add(validate.Field("kind", "must be meeting, call or email"))
	}
	switch {
	case in.OccurredAt.IsZero():
		add(validate.Field("occurred_at", "is required"))
	case in.OccurredAt.After(now.Add(24 * time.Hour)):
		add(validate.Field("occurred_at", "lies in the future"))
	}
	i.OccurredAt = in.OccurredAt.UTC().Truncate(time.Microsecond)
	i.OrganiserIDs, ferr = idList("organiser_ids", in.OrganiserIDs)
	add(ferr)
	i.ContactIDs, ferr = idList("contact_ids", in.ContactIDs)
	add(ferr)
	if len(in.OrganiserIDs) == 0 && len(in.ContactIDs) == 0 {
		add(validate.Field("organiser_ids", "name at least one participant, an organiser or a contact"))
	}
	i.Notes, ferr = notes("notes", in.Notes)
	add(ferr)
	if err := errs.Err(); err != nil {
		return Interaction{}, err
	}
	return i, nil
}

// idList validates, sorts and deduplicates a list of ids.
func idList(field string, raw []string) ([]string, *validate.FieldError) {
	if len(raw) > MaxParticipants {
		return nil, validate.Field(field, "must name at most %d", MaxParticipants)
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		id, ferr := ValidateID(field, r, true)
		if ferr != nil {
			return nil, validate.Field(field, "each entry %s", ferr.Reason)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// notes checks multi-line free text.
func notes(field, raw string) (string, *validate.FieldError) {
	if !utf8.ValidString(raw) {
		return "", validate.Field(field, "must be valid UTF-8")
	}
	s := strings.TrimSpace(strings.ReplaceAll(raw, "\r\n", "\n"))
	if utf8.RuneCountInString(s) > MaxNotesLength {
		return "", validate.Field(field, "must be at most %d characters", MaxNotesLength)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return "", validate.Field(field, "must not contain control characters other than line breaks and tabs")
	}
	return s, nil
}
