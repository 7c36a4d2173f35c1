// Package domain holds the insights service's rules without I/O: the
// metric catalogue, the facts it counts (members, attendance, messages,
// partners) and what each contributes to the daily series, periods,
// segments and goals.
package domain

import (
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Day is a calendar day of a community, counted from 1970-01-01. Series
// are kept in days of the community's time zone; dates that are days
// already (a contribution's, an agreement's) are taken as they are.
type Day int

// NoDay stands for "not yet" where a day is open-ended.
const NoDay Day = 1 << 30

// DayOf is the day t falls on in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	y, m, d := t.In(loc).Date()
	return DateDay(y, m, d)
}

// DateDay is the day of a calendar date.
func DateDay(y int, m time.Month, d int) Day {
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Date is the day's calendar date at midnight UTC.
func (d Day) Date() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String is the day as an ISO 8601 date.
func (d Day) String() string { return d.Date().Format(time.DateOnly) }

// Start is the instant the day begins in loc.
func (d Day) Start(loc *time.Location) time.Time {
	y, m, dd := d.Date().Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, loc)
}

// ParseDay reads an ISO 8601 date of field; empty is the zero Day and ok.
func ParseDay(field, raw string) (Day, bool, *validate.FieldError) {
	if raw == "" {
		return 0, false, nil
	}
	t, err := time.Parse(time.DateOnly, raw)
	if err != nil {
		return 0, false, validate.Field(field, "must be a date such as 2026-03-31")
	}
	return DateDay(t.Date()), true, nil
}

// WeekStart is the Monday of d's week.
func WeekStart(d Day) Day {
	// 1970-01-01 was a Thursday: Monday-based weekday 3.
	return d - Day(((int(d)+3)%7+7)%7)
}

// MonthStart is the first day of d's month.
func MonthStart(d Day) Day {
	y, m, _ := d.Date().Date()
	return DateDay(y, m, 1)
}

// Granularity is the length of a series' periods.
type Granularity int

// Granularities.
const (
	ByDay Granularity = iota + 1
	ByWeek
	ByMonth
)

// String names g.
func (g Granularity) String() string {
	switch g {
	case ByDay:
		return "day"
	case ByWeek:
		return "week"
	case ByMonth:
		return "month"
	}
	return "unknown"
}

// Period is a run of days, both ends included.
type Period struct {
	Start, End Day
}

// PeriodStart is the first day of the period of g holding d.
func PeriodStart(d Day, g Granularity) Day {
	switch g {
	case ByWeek:
		return WeekStart(d)
	case ByMonth:
		return MonthStart(d)
	}
	return d
}

// nextPeriod is the first day of the period after the one starting at s.
func nextPeriod(s Day, g Granularity) Day {
	switch g {
	case ByWeek:
		return s + 7
	case ByMonth:
		y, m, _ := s.Date().Date()
		return DateDay(y, m+1, 1)
	}
	return s + 1
}

// Periods are the periods of g covering from to to, whole.
func Periods(from, to Day, g Granularity) []Period {
	var out []Period
	for s := PeriodStart(from, g); s <= to; {
		n := nextPeriod(s, g)
		out = append(out, Period{Start: s, End: n - 1})
		s = n
	}
	return out
}
