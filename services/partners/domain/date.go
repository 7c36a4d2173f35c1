package domain

import (
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// DateLayout is how dates travel and are stored: ISO 8601 calendar dates.
const DateLayout = "2006-01-02"

// Date is a calendar day, in UTC. The zero Date means "no date".
type Date struct {
	t time.Time // midnight UTC
}

// DateOf returns the UTC day of t.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{t: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// ParseDate reads an ISO 8601 date such as "2026-03-31"; an empty raw is
// the zero Date. Field names the request field in the error.
func ParseDate(field, raw string) (Date, *validate.FieldError) {
	if raw == "" {
		return Date{}, nil
	}
	t, err := time.Parse(DateLayout, raw)
	if err != nil {
		return Date{}, validate.Field(field, "is not a date such as 2026-03-31")
	}
	return Date{t: t}, nil
}

// MustDate parses raw or panics; for tests and constants.
func MustDate(raw string) Date {
	d, ferr := ParseDate("date", raw)
	if ferr != nil {
		panic(ferr)
	}
	return d
}

// IsZero reports whether d is no date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// String is d as "2026-03-31", or "" for no date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(DateLayout)
}

// Time is the start of d, UTC.
func (d Date) Time() time.Time { return d.t }

// AddDays returns the day n days after d (before, for negative n).
func (d Date) AddDays(n int) Date { return Date{t: d.t.AddDate(0, 0, n)} }

// DaysUntil is the number of days from d to later (negative when later is
// earlier).
func (d Date) DaysUntil(later Date) int {
	return int(later.t.Sub(d.t).Hours() / 24)
}

// Before reports whether d is an earlier day than o.
func (d Date) Before(o Date) bool { return d.t.Before(o.t) }

// After reports whether d is a later day than o.
func (d Date) After(o Date) bool { return d.t.After(o.t) }
