package domain

import (
	"slices"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// FuzzRecurrence feeds an organiser's RRULE (and an EXDATE) to the
// recurrence rules: a rule is refused with a field error naming
// recurrence.rrule or recurrence.exdates, or yields 1 to MaxOccurrences
// increasing starts, the first being the event's start, within the
// horizon; its normal form yields the same starts, and splitting the
// series at any later occurrence keeps every start on one side or the
// other.
//
//	go test -run XXX -fuzz FuzzRecurrence -fuzztime 60s ./services/events/domain/
func FuzzRecurrence(f *testing.F) {
	for _, seed := range []string{
		"FREQ=WEEKLY;COUNT=10", "RRULE:FREQ=DAILY;UNTIL=20300301T000000Z", "FREQ=MONTHLY;BYDAY=1MO,-1FR;COUNT=12",
		"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=3", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=501", "FREQ=DAILY",
		"FREQ=HOURLY;COUNT=3", "FREQ=DAILY;COUNT=2;DTSTART=20300101T000000Z", "FREQ=DAILY;COUNT=3\r\nATTENDEE:x", "FREQ=WEEKLY;BYSETPOS=-1;COUNT=2",
		"FREQ=MONTHLY;BYMONTHDAY=31;COUNT=5", "FREQ=DAILY;COUNT=2;BYEASTER=0", "FREQ=DAILY;INTERVAL=0;COUNT=2", "", ";;;=", "FREQ=DAILY;UNTIL=99991231T235959Z",
	} {
		f.Add(seed, int64(0), uint8(0), int16(-1))
	}
	f.Add("FREQ=WEEKLY;COUNT=4", int64(86400*90), uint8(1), int16(14))
	zones := []string{"UTC", "Europe/Berlin", "America/Sao_Paulo", "Pacific/Chatham"}
	f.Fuzz(func(t *testing.T, rule string, offset int64, zone uint8, exdateDays int16) {
		loc, err := time.LoadLocation(zones[int(zone)%len(zones)])
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2030, 3, 29, 18, 30, 0, 0, time.UTC).Add(time.Duration(offset%(5*365*86400)) * time.Second)
		var exdates []time.Time
		if exdateDays >= 0 {
			exdates = []time.Time{start.AddDate(0, 0, int(exdateDays))}
		}
		normal, starts, err := Expand(rule, exdates, start, loc)
		if err != nil {
			fes := validate.FieldErrors(err)
			if len(fes) != 1 || (fes[0].Field != "recurrence.rrule" && fes[0].Field != "recurrence.exdates") || fes[0].Reason == "" {
				t.Fatalf("Expand(%q) = %v, want one field error on recurrence.rrule or recurrence.exdates", rule, err)
			}
			return
		}
		if len(starts) == 0 || len(starts) > MaxOccurrences {
			t.Fatalf("Expand(%q) gave %d starts", rule, len(starts))
		}
		horizon := start.AddDate(HorizonYears, 0, 0)
		for i, s := range starts {
			if s.Location() != time.UTC || s.After(horizon) || (i > 0 && !s.After(starts[i-1])) {
				t.Fatalf("Expand(%q) start %d = %v (of %v)", rule, i, s, starts)
			}
			if slices.ContainsFunc(exdates, s.Equal) {
				t.Fatalf("Expand(%q) kept excluded %v", rule, s)
			}
		}
		if len(exdates) == 0 && !starts[0].Equal(start) {
			t.Fatalf("Expand(%q) starts at %v, not at the event's start %v", rule, starts[0], start)
		}
		again, restarts, err := Expand(normal, exdates, start, loc)
		if err != nil || again != normal || !slices.EqualFunc(restarts, starts, time.Time.Equal) {
			t.Fatalf("normal form %q of %q expands to %q, %d starts, %v; want itself and %d starts", normal, rule, again, len(restarts), err, len(starts))
		}
		if len(exdates) > 0 || len(starts) < 2 {
			return
		}
		pivot := starts[len(starts)/2]
		before, after, err := SplitRule(normal, start, loc, pivot)
		if err != nil {
			t.Fatalf("SplitRule(%q at %v) = %v", normal, pivot, err)
		}
		_, first, err1 := Expand(before, nil, start, loc)
		_, rest, err2 := Expand(after, nil, pivot, loc)
		if err1 != nil || err2 != nil || !slices.EqualFunc(append(first, rest...), starts, time.Time.Equal) {
			t.Fatalf("split of %q at %v: %q (%v) and %q (%v) do not give back its %d starts", normal, pivot, before, err1, after, err2, len(starts))
		}
	})
}
