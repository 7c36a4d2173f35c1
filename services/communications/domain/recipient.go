package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // quiet hours need every time zone, also in images without one
)

// Recipient is the communications service's copy of a member, kept from
// members.v1 events so a fan-out never calls the members service.
type Recipient struct {
	MemberID    string
	Community   string
	Email       string
	DisplayName string
	Locale      string
	TimeZone    string
	Status      string // the members service's status name
	CountryCode string
	Region      string
	City        string
	Level       string
	JoinedAt    time.Time
	// Tags by kind: interest, skill, goal, role.
	Interests, Skills, Goals, Roles []string
	// Consents holds the purposes currently granted.
	Consents     []string
	LastActiveAt time.Time
	// EmailVerified says the member proved they hold Email (a
	// confirmation link followed) or an organiser vouched for it; only
	// confirmation messages go to an address that is not.
	EmailVerified bool
}

// Has reports whether the recipient currently consents to purpose.
func (r Recipient) Has(purpose string) bool { return slices.Contains(r.Consents, purpose) }

// Suppression reasons.
const (
	ReasonNoConsent      = "no consent"
	ReasonUnsubscribed   = "unsubscribed"
	ReasonAddressBlocked = "address suppressed"
	ReasonNotMember      = "no longer a member"
	ReasonCancelled      = "announcement cancelled"
	ReasonNoAddress      = "no address known"
	ReasonNotConfirmed   = "address not confirmed"
)

// Decision is what to do with a due message now.
type Decision struct {
	// Suppress with Reason, or
	Suppress bool
	Reason   string
	// HoldUntil, when set, is when to try again (quiet hours).
	HoldUntil time.Time
}

// Decide applies the membership, address, consent and quiet-hours rules to
// a due message for recipient (nil when the projection of the message's
// community has no such member).
func Decide(m Message, r *Recipient, suppressed bool, quiet QuietHours, now time.Time) Decision {
	if m.Channel == ChannelWebhook {
		return Decision{}
	}
	confirmation := m.Kind == KindConfirmation
	switch {
	case suppressed:
		return Decision{Suppress: true, Reason: ReasonAddressBlocked}
	case r == nil && !confirmation:
		return Decision{Suppress: true, Reason: ReasonNotMember}
	case r != nil && (r.Status == "erased" || r.Status == "left"):
		return Decision{Suppress: true, Reason: ReasonNotMember}
	case !confirmation && !r.EmailVerified:
		return Decision{Suppress: true, Reason: ReasonNotConfirmed}
	case m.Kind.Purpose() == "":
		return Decision{}
	case r == nil || !r.Has(m.Kind.Purpose()):
		return Decision{Suppress: true, Reason: ReasonNoConsent}
	}
	if until := quiet.Until(now, r.TimeZone); !until.IsZero() {
		return Decision{HoldUntil: until}
	}
	return Decision{}
}

// QuietHours is the local time range in which non-transactional messages
// wait, such as 21:00 to 08:00.
type QuietHours struct {
	Start, End time.Duration // since local midnight
}

// DefaultQuietHours are 21:00 to 08:00.
func DefaultQuietHours() QuietHours { return QuietHours{Start: 21 * time.Hour, End: 8 * time.Hour} }

// ParseQuietHours reads "21:00-08:00" (start and end, recipient-local) or
// "off".
func ParseQuietHours(s string) (QuietHours, error) {
	if strings.EqualFold(strings.TrimSpace(s), "off") {
		return QuietHours{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	start, err1 := clock(from)
	end, err2 := clock(to)
	if !ok || err1 != nil || err2 != nil {
		return QuietHours{}, fmt.Errorf("quiet hours %q are not HH:MM-HH:MM or off", s)
	}
	return QuietHours{Start: start, End: end}, nil
}

// StartClock is when quiet hours begin, as "HH:MM".
func (q QuietHours) StartClock() string { return hhmm(q.Start) }

// EndClock is when quiet hours end, as "HH:MM".
func (q QuietHours) EndClock() string { return hhmm(q.End) }

func hhmm(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Until returns when quiet hours end if now falls in them in time zone tz
// (UTC when unknown), or the zero time.
func (q QuietHours) Until(now time.Time, tz string) time.Time {
	if q.Start == q.End {
		return time.Time{}
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		loc = time.UTC
	}
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	since := local.Sub(midnight)
	inQuiet := false
	if q.Start > q.End { // spans midnight
		inQuiet = since >= q.Start || since < q.End
	} else {
		inQuiet = since >= q.Start && since < q.End
	}
	if !inQuiet {
		return time.Time{}
	}
	end := midnight.Add(q.End)
	if !end.After(local) {
		end = time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, loc).Add(q.End)
	}
	return end.UTC()
}

// Backoff is how long a message that failed for the attempts-th time
// waits before the next try: base (a minute in production), doubling, at
// most six hours.
func Backoff(base time.Duration, attempts int) time.Duration {
	d := base
	for i := 1; i < attempts && d < 6*time.Hour; i++ {
		d *= 2
	}
	return min(d, 6*time.Hour)
}

// MaxAttempts is how often a message is tried before it fails for good.
const MaxAttempts = 8
