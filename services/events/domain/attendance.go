package domain

import (
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// RSVPStatus is where a member stands for one occurrence.
type RSVPStatus string

// RSVP statuses. Going, offered, checked in and no-show hold a seat.
const (
	RSVPGoing        RSVPStatus = "going"
	RSVPWaitlisted   RSVPStatus = "waitlisted"
	RSVPOffered      RSVPStatus = "offered"
	RSVPNotGoing     RSVPStatus = "not_going"
	RSVPCancelled    RSVPStatus = "cancelled"
	RSVPCheckedIn    RSVPStatus = "checked_in"
	RSVPNoShow       RSVPStatus = "no_show"
	RSVPOfferExpired RSVPStatus = "offer_expired"
)

// HoldsSeat reports whether a member with status s counts against capacity.
func (s RSVPStatus) HoldsSeat() bool {
	return s == RSVPGoing || s == RSVPOffered || s == RSVPCheckedIn || s == RSVPNoShow
}

// Waiting reports whether s is a place on the waitlist or a held offer.
func (s RSVPStatus) Waiting() bool { return s == RSVPWaitlisted || s == RSVPOffered }

// Answer is what a member says.
type Answer string

// Answers.
const (
	AnswerGoing    Answer = "going"
	AnswerNotGoing Answer = "not_going"
)

// RSVP is one member's answer for one occurrence.
type RSVP struct {
	ID           string
	Community    string
	EventID      string
	OccurrenceID string
	MemberID     string
	Status       RSVPStatus
	// Position is the place on the occurrence's waitlist; positions only
	// grow, so the smallest waiting one is next.
	Position       int
	Code           string
	OfferExpiresAt time.Time
	AnsweredAt     time.Time
	CheckedInAt    time.Time
	UpdatedAt      time.Time
	Series         bool
	// OccurrenceStart is read along, for display.
	OccurrenceStart time.Time
}

// OfferWindow is how long a freed seat is held for the next member on the
// waitlist unless configured otherwise.
const OfferWindow = 24 * time.Hour

// CheckInOpensBefore is how long before the start check-in opens.
const CheckInOpensBefore = 2 * time.Hour

// ErrOccurrenceCancelled is reported for answers to a cancelled occurrence.
var ErrOccurrenceCancelled = errors.New("the occurrence is cancelled")

// CanAnswer reports whether members may answer for o of e at now.
func CanAnswer(e Event, o Occurrence, now time.Time) error {
	if err := CanAnswerEvent(e); err != nil {
		return err
	}
	if o.Status == OccurrenceCancelled {
		return ErrOccurrenceCancelled
	}
	if o.Started(now) {
		return ErrOccurrenceEnded
	}
	return nil
}

// CanAnswerEvent reports whether e takes answers at all.
func CanAnswerEvent(e Event) error {
	switch e.Status {
	case StatusDraft:
		return ErrNotPublished
	case StatusCancelled:
		return ErrEventCancelled
	case StatusCompleted:
		return ErrOccurrenceEnded
	}
	return nil
}

// SeatFree reports whether o has a seat nobody holds.
func SeatFree(o Occurrence) bool { return o.Capacity == 0 || o.SeatsTaken < o.Capacity }

// OfferExpiry is when a seat offered at now must be taken: after window,
// and at the latest when the occurrence starts.
func OfferExpiry(now time.Time, o Occurrence, window time.Duration) time.Time {
	if window <= 0 {
		window = OfferWindow
	}
	exp := now.Add(window)
	if o.Start.Before(exp) {
		exp = o.Start
	}
	return exp.UTC()
}

// CheckInOpen reports whether o accepts check-ins at now. The organising
// team may check members in after the end too, to correct the record.
func CheckInOpen(o Occurrence, now time.Time, team bool) error {
	if o.Status == OccurrenceCancelled {
		return ErrOccurrenceCancelled
	}
	if now.Before(o.Start.Add(-CheckInOpensBefore)) || (!team && o.Ended(now)) {
		return ErrCheckInClosed
	}
	return nil
}

// Check-in codes: 8 characters of Crockford's base32 (40 random bits),
// read forgivingly (case, dashes, O for 0, I and L for 1).
const (
	codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	CodeLength   = 8
	qrPrefix     = "kinship:checkin:"
)

// NewCheckInCode draws a code from r (crypto/rand when nil).
func NewCheckInCode(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [CodeLength]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	out := make([]byte, CodeLength)
	for i, v := range b {
		out[i] = codeAlphabet[v&31]
	}
	return string(out), nil
}

// QRPayload is what a seat's QR code carries.
func QRPayload(community, code string) string {
	if code == "" {
		return ""
	}
	return qrPrefix + community + ":" + code
}

// ParseCheckInCode reads a typed code or a scanned QR payload of
// community.
func ParseCheckInCode(community, raw string) (string, *validate.FieldError) {
	s := strings.TrimSpace(raw)
	if rest, ok := strings.CutPrefix(s, qrPrefix); ok {
		c, code, found := strings.Cut(rest, ":")
		if !found || c != community {
			return "", validate.Field("code", "is a check-in QR code of another community")
		}
		s = code
	}
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s))
	s = strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(s)
	if len(s) != CodeLength || strings.Trim(s, codeAlphabet) != "" {
		return "", validate.Field("code", "must be the %d-character check-in code", CodeLength)
	}
	return s, nil
}

// Feedback is an attendee's rating of an occurrence.
type Feedback struct {
	Community    string
	EventID      string
	OccurrenceID string
	MemberID     string
	Rating       int
	Comment      string
	GivenAt      time.Time
}

// MaxCommentLength bounds a feedback comment.
const MaxCommentLength = 2000

// NewFeedback validates a rating and comment.
func NewFeedback(rating int, comment string) (int, string, error) {
	var errs validate.Errors
	if rating < 1 || rating > 5 {
		errs = append(errs, validate.Field("rating", "must be between 1 and 5"))
	}
	c, ferr := FreeText("comment", comment, MaxCommentLength)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	return rating, c, errs.Err()
}

// FeedbackSummary aggregates ratings.
type FeedbackSummary struct {
	Count        int
	Average      float64
	Distribution [5]int
}

// Attendance counts what happened at an event's occurrences.
type Attendance struct {
	// Occurrences held (not cancelled).
	Occurrences int
	// SeatsTaken held at the end: attended, missed, or never checked in.
	SeatsTaken int
	Attended   int
	NoShows    int
}
