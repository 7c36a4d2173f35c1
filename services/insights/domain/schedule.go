package domain

import (
	"fmt"
	"strings"
	"time"
)

// Schedule is the weekly health report's slot: a weekday and a time of
// day in the community's time zone. Off sends no report by itself.
type Schedule struct {
	Off     bool
	Weekday time.Weekday
	Hour    int
	Minute  int
}

// ParseSchedule reads "mon 08:00" (any weekday's first three letters,
// 24-hour time) or "off".
func ParseSchedule(raw string) (Schedule, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "off" {
		return Schedule{Off: true}, nil
	}
	day, clock, ok := strings.Cut(s, " ")
	days := map[string]time.Weekday{"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
		"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday}
	wd, known := days[day]
	t, err := time.Parse("15:04", strings.TrimSpace(clock))
	if !ok || !known || err != nil {
		return Schedule{}, fmt.Errorf("report schedule %q must be a weekday and a time, such as \"mon 08:00\", or off", raw)
	}
	return Schedule{Weekday: wd, Hour: t.Hour(), Minute: t.Minute()}, nil
}

// Due reports whether this week's slot has come at now in loc, and the
// Monday of the week.
func (s Schedule) Due(now time.Time, loc *time.Location) (bool, Day) {
	week := WeekStart(DayOf(now, loc))
	if s.Off {
		return false, week
	}
	offset := (int(s.Weekday) + 6) % 7 // days after Monday
	y, m, d := (week + Day(offset)).Date().Date()
	slot := time.Date(y, m, d, s.Hour, s.Minute, 0, 0, loc)
	return !now.Before(slot), week
}
