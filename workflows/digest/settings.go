package digest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Settings say when a community's digest goes out.
type Settings struct {
	// Off removes the community's schedule: no digests.
	Off bool
	// Day, Hour and Minute are the weekly time, in TimeZone.
	Day          time.Weekday
	Hour, Minute int
	// TimeZone is an IANA zone name, such as "Europe/Berlin".
	TimeZone string
	// Template is the communications template sent; DefaultTemplate is
	// created with a default text when the community has none by that
	// name.
	Template string
}

// DefaultTemplate is the template digests use unless configured.
const DefaultTemplate = "weekly-digest"

// DefaultSettings send the digest on Mondays at 09:00 UTC.
func DefaultSettings() Settings {
	return Settings{Day: time.Monday, Hour: 9, TimeZone: "UTC", Template: DefaultTemplate}
}

// ParseSettings reads a schedule such as "mon 09:00", "fri 17:30
// Europe/Berlin" or "off"; empty means DefaultSettings. The template
// stays the default.
func ParseSettings(spec string) (Settings, error) {
	s := DefaultSettings()
	fields := strings.Fields(spec)
	switch {
	case len(fields) == 0:
		return s, nil
	case len(fields) == 1 && strings.EqualFold(fields[0], "off"):
		s.Off = true
		return s, nil
	case len(fields) > 3:
		return s, fmt.Errorf("digest schedule %q: want a day, a time and optionally a time zone, such as \"mon 09:00 UTC\"", spec)
	}
	day, ok := weekday(fields[0])
	if !ok {
		return s, fmt.Errorf("digest schedule %q: %q is not a day (mon, tue, ... sun)", spec, fields[0])
	}
	s.Day = day
	if len(fields) > 1 {
		h, m, ok := strings.Cut(fields[1], ":")
		hour, herr := strconv.Atoi(h)
		minute, merr := strconv.Atoi(m)
		if !ok || herr != nil || merr != nil {
			return s, fmt.Errorf("digest schedule %q: %q is not a time such as 09:00", spec, fields[1])
		}
		s.Hour, s.Minute = hour, minute
	}
	if len(fields) > 2 {
		s.TimeZone = fields[2]
	}
	return s, s.Validate()
}

// weekday reads a day's three-letter abbreviation, in any case.
func weekday(abbr string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(abbr, d.String()[:3]) {
			return d, true
		}
	}
	return 0, false
}

// Validate reports every setting out of range.
func (s Settings) Validate() error {
	if s.Off {
		return nil
	}
	var errs []error
	if s.Day < time.Sunday || s.Day > time.Saturday {
		errs = append(errs, fmt.Errorf("digest: day %d is not a weekday", s.Day))
	}
	if s.Hour < 0 || s.Hour > 23 || s.Minute < 0 || s.Minute > 59 {
		errs = append(errs, fmt.Errorf("digest: %02d:%02d is not a time of day", s.Hour, s.Minute))
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" {
		errs = append(errs, fmt.Errorf("digest: time zone %q is not an IANA zone", s.TimeZone))
	}
	if s.Template == "" {
		errs = append(errs, errors.New("digest: no template"))
	}
	return errors.Join(errs...)
}
