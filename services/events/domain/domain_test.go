package domain

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func validSpec() Spec {
	start := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC) // 18:00 in Berlin
	return Spec{Title: " Repair café ", Kind: KindHybrid, Venue: Venue{Street: "Main St 1", City: "Berlin", CountryCode: "de"},
		OnlineURL: "https://meet.example.org/repair", Start: start, End: start.Add(2 * time.Hour), TimeZone: "Europe/Berlin",
		Capacity: 20, Tags: []string{"Repair", "climate", "repair"}, OrganiserIDs: []string{"m1"}}
}

func fields(err error) []string {
	var out []string
	for _, fe := range validate.FieldErrors(err) {
		out = append(out, fe.Field)
	}
	return out
}

func TestNewEventNormalises(t *testing.T) {
	e, starts, err := NewEvent("demo", validSpec(), "e1", now)
	if err != nil {
		t.Fatal(err)
	}
	if e.Title != "Repair café" || e.Venue.CountryCode != "DE" || !slices.Equal(e.Tags, []string{"climate", "repair"}) ||
		e.Visibility != VisibilityMembers || e.Status != StatusDraft || len(starts) != 1 {
		t.Errorf("NewEvent = %+v, %v", e, starts)
	}
}

func TestBadInputIsNamed(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Spec)
		fields []string
	}{
		{"end before start", func(s *Spec) { s.End = s.Start.Add(-time.Hour) }, []string{"end_time"}},
		{"end equals start", func(s *Spec) { s.End = s.Start }, []string{"end_time"}},
		{"eight days long", func(s *Spec) { s.End = s.Start.Add(8 * 24 * time.Hour) }, []string{"end_time"}},
		{"negative capacity", func(s *Spec) { s.Capacity = -1 }, []string{"capacity"}},
		{"huge capacity", func(s *Spec) { s.Capacity = MaxCapacity + 1 }, []string{"capacity"}},
		{"unknown time zone", func(s *Spec) { s.TimeZone = "Mars/Olympus_Mons" }, []string{"time_zone"}},
		{"Local is no zone", func(s *Spec) { s.TimeZone = "Local" }, []string{"time_zone"}},
		{"no time zone", func(s *Spec) { s.TimeZone = "" }, []string{"time_zone"}},
		{"online without URL", func(s *Spec) { s.Kind, s.OnlineURL, s.Venue = KindOnline, "", Venue{} }, []string{"online_url"}},
		{"hybrid without URL", func(s *Spec) { s.OnlineURL = "" }, []string{"online_url"}},
		{"URL that is no URL", func(s *Spec) { s.OnlineURL = "meet me there" }, []string{"online_url"}},
		{"javascript URL", func(s *Spec) { s.OnlineURL = "javascript:alert(1)" }, []string{"online_url"}},
		{"offline with URL", func(s *Spec) { s.Kind = KindOffline }, []string{"online_url"}},
		{"offline without venue", func(s *Spec) { s.Kind, s.OnlineURL, s.Venue = KindOffline, "", Venue{} }, []string{"venue.street"}},
		{"no kind", func(s *Spec) { s.Kind = "" }, []string{"kind"}},
		{"empty title", func(s *Spec) { s.Title = " " }, []string{"title"}},
		{"10 KB title", func(s *Spec) { s.Title = strings.Repeat("x", 10<<10) }, []string{"title"}},
		{"bad tag", func(s *Spec) { s.Tags = []string{"Solar Power!"} }, []string{"tags"}},
		{"bad organiser id", func(s *Spec) { s.OrganiserIDs = []string{"a b"} }, []string{"organiser_ids"}},
		{"bad country", func(s *Spec) { s.Venue.CountryCode = "DEU" }, []string{"venue.country_code"}},
		{"bad visibility", func(s *Spec) { s.Visibility = "secret" }, []string{"visibility"}},
		{"unparseable RRULE", func(s *Spec) { s.RRule = "FREQ=SOMETIMES" }, []string{"recurrence.rrule"}},
		{"RRULE with DTSTART", func(s *Spec) { s.RRule = "DTSTART:20261201T170000Z\nRRULE:FREQ=DAILY;COUNT=2" }, []string{"recurrence.rrule"}},
		{"endless RRULE", func(s *Spec) { s.RRule = "FREQ=WEEKLY" }, []string{"recurrence.rrule"}},
		{"hourly RRULE", func(s *Spec) { s.RRule = "FREQ=HOURLY;COUNT=3" }, []string{"recurrence.rrule"}},
		{"RRULE beyond 2 years", func(s *Spec) { s.RRule = "FREQ=MONTHLY;COUNT=30" }, []string{"recurrence.rrule"}},
		{"COUNT over 500", func(s *Spec) { s.RRule = "FREQ=DAILY;COUNT=501" }, []string{"recurrence.rrule"}},
		{"start not on the rule", func(s *Spec) { s.RRule = "FREQ=WEEKLY;BYDAY=WE;COUNT=3" }, []string{"recurrence.rrule"}}, // 1 Dec 2026 is a Tuesday
		{"EXDATE off the rule", func(s *Spec) {
			s.RRule, s.ExDates = "FREQ=WEEKLY;COUNT=3", []time.Time{s.Start.Add(24 * time.Hour)}
		}, []string{"recurrence.exdates"}},
		{"EXDATE without RRULE", func(s *Spec) { s.ExDates = []time.Time{s.Start} }, []string{"recurrence.rrule"}},
		{"several at once", func(s *Spec) { s.Capacity, s.TimeZone, s.Title = -5, "Nowhere/Land", "" }, []string{"title", "time_zone", "capacity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			tt.mutate(&s)
			_, _, err := NewEvent("demo", s, "e1", now)
			if got := fields(err); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %v (%v), want %v", got, err, tt.fields)
			}
		})
	}
	if _, _, err := NewEvent("demo", validSpec(), "e1", validSpec().Start.Add(time.Minute)); !slices.Equal(fields(err), []string{"start_time"}) {
		t.Errorf("an event in the past = %v, want start_time", err)
	}
}

func TestRecurrenceKeepsWallClockAcrossDaylightSaving(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 10, 20, 18, 0, 0, 0, berlin) // CEST, UTC+2
	rule, starts, err := Expand("RRULE:FREQ=WEEKLY;COUNT=3", nil, start.UTC(), berlin)
	if err != nil {
		t.Fatal(err)
	}
	if rule != "FREQ=WEEKLY;COUNT=3" {
		t.Errorf("rule = %q", rule)
	}
	want := []time.Time{
		time.Date(2026, 10, 20, 16, 0, 0, 0, time.UTC), // 18:00 CEST
		time.Date(2026, 10, 27, 17, 0, 0, 0, time.UTC), // 18:00 CET, after the change on 25 October
		time.Date(2026, 11, 3, 17, 0, 0, 0, time.UTC),
	}
	if !slices.EqualFunc(starts, want, time.Time.Equal) {
		t.Errorf("starts = %v, want %v", starts, want)
	}
	_, less, err := Expand("FREQ=WEEKLY;COUNT=3", []time.Time{want[1]}, start.UTC(), berlin)
	if err != nil || len(less) != 2 || !less[1].Equal(want[2]) {
		t.Errorf("with an EXDATE = %v, %v", less, err)
	}
	until, err2 := func() ([]time.Time, error) {
		_, s, err := Expand("FREQ=DAILY;UNTIL=20261022T235959Z", nil, start.UTC(), berlin)
		return s, err
	}()
	if err2 != nil || len(until) != 3 {
		t.Errorf("UNTIL rule = %v, %v; want 3 days", until, err2)
	}
}

func TestSplitRuleCutsCountAndUntil(t *testing.T) {
	start := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	pivot := start.Add(2 * 7 * 24 * time.Hour)
	before, after, err := SplitRule("FREQ=WEEKLY;COUNT=5", start, time.UTC, pivot)
	if err != nil {
		t.Fatal(err)
	}
	_, a, _ := Expand(before, nil, start, time.UTC)
	_, b, _ := Expand(after, nil, pivot, time.UTC)
	if len(a) != 2 || len(b) != 3 || !b[0].Equal(pivot) {
		t.Errorf("split %q / %q = %d + %d occurrences, want 2 + 3", before, after, len(a), len(b))
	}
	if _, _, err := SplitRule("FREQ=WEEKLY;COUNT=5", start, time.UTC, start); err == nil {
		t.Error("splitting at the first occurrence succeeded")
	}
}

func TestPlanOccurrencesKeepsDaysAcrossTimeChanges(t *testing.T) {
	day := func(d, h int) time.Time { return time.Date(2026, 12, d, h, 0, 0, 0, time.UTC) }
	existing := []Occurrence{{ID: "a", RecurrenceID: day(1, 17)}, {ID: "b", RecurrenceID: day(8, 17)}, {ID: "c", RecurrenceID: day(15, 17)}}
	// Same days, an hour later, and the series one week longer.
	p := PlanOccurrences(existing, []time.Time{day(1, 18), day(8, 18), day(15, 18), day(22, 18)}, time.UTC)
	if len(p.Keep) != 3 || !p.Keep["b"].Equal(day(8, 18)) || len(p.Cancel) != 0 || len(p.Create) != 1 || !p.Create[0].Equal(day(22, 18)) {
		t.Errorf("plan = %+v", p)
	}
	// Other days: the old ones are cancelled.
	p = PlanOccurrences(existing, []time.Time{day(2, 17), day(9, 17)}, time.UTC)
	if len(p.Keep) != 0 || len(p.Cancel) != 3 || len(p.Create) != 2 {
		t.Errorf("plan for other days = %+v", p)
	}
	// A late sitting moved an hour later lands on the next day: it is the
	// same sitting, and keeps its RSVPs.
	late := []Occurrence{{ID: "a", RecurrenceID: day(1, 23)}, {ID: "b", RecurrenceID: day(8, 23)}}
	p = PlanOccurrences(late, []time.Time{day(2, 0), day(9, 0)}, time.UTC)
	if len(p.Keep) != 2 || !p.Keep["a"].Equal(day(2, 0)) || !p.Keep["b"].Equal(day(9, 0)) || len(p.Cancel) != 0 || len(p.Create) != 0 {
		t.Errorf("plan for a time moved across midnight = %+v", p)
	}
	// Six hours or more on another day is another day.
	p = PlanOccurrences(late, []time.Time{day(2, 5), day(9, 5)}, time.UTC)
	if len(p.Keep) != 0 || len(p.Cancel) != 2 || len(p.Create) != 2 {
		t.Errorf("plan for a sitting moved to the next morning = %+v", p)
	}
}

func TestCheckInCodes(t *testing.T) {
	code, err := NewCheckInCode(bytes.NewReader(bytes.Repeat([]byte{7, 200, 31, 0}, 2)))
	if err != nil || len(code) != CodeLength {
		t.Fatalf("code = %q, %v", code, err)
	}
	for _, typed := range []string{code, strings.ToLower(code), code[:4] + "-" + code[4:], QRPayload("demo", code)} {
		if got, ferr := ParseCheckInCode("demo", typed); ferr != nil || got != code {
			t.Errorf("ParseCheckInCode(%q) = %q, %v", typed, got, ferr)
		}
	}
	if got, ferr := ParseCheckInCode("demo", "7O1L-ABCD"); ferr != nil || got != "7011ABCD" {
		t.Errorf("look-alike letters read as %q, %v", got, ferr)
	}
	for _, bad := range []string{"", "ABC", "ABCDEFGHJ", "ABCD!FGH", QRPayload("other", code)} {
		if _, ferr := ParseCheckInCode("demo", bad); ferr == nil || ferr.Field != "code" {
			t.Errorf("ParseCheckInCode(%q) accepted", bad)
		}
	}
	a, _ := NewCheckInCode(nil)
	b, _ := NewCheckInCode(nil)
	if a == b {
		t.Errorf("two random codes are equal: %s", a)
	}
}

func TestOfferExpiresAtTheStartAtTheLatest(t *testing.T) {
	o := Occurrence{Start: now.Add(3 * time.Hour)}
	if got := OfferExpiry(now, o, 24*time.Hour); !got.Equal(o.Start) {
		t.Errorf("expiry = %s, want the start %s", got, o.Start)
	}
	o.Start = now.Add(72 * time.Hour)
	if got := OfferExpiry(now, o, 24*time.Hour); !got.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("expiry = %s, want 24 h on", got)
	}
}

func TestRankPrefersInterestsAndPlace(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	mk := func(id string, kind Kind, city, country string, tags []string, start time.Time) Candidate {
		return Candidate{Event: Event{ID: id, Spec: Spec{Kind: kind, Tags: tags, Venue: Venue{City: city, CountryCode: country}}},
			Occurrence: Occurrence{ID: id + "-o", Start: start}}
	}
	soon := now.Add(48 * time.Hour) // 12:00 UTC = 21:00 in Tokyo
	cands := []Candidate{
		mk("far", KindOffline, "Lyon", "FR", []string{"solar"}, soon),
		mk("near", KindOffline, "Berlin", "DE", []string{"solar"}, soon.Add(24*time.Hour)),
		mk("online", KindOnline, "", "", []string{"solar"}, soon),
		mk("boring", KindOffline, "Berlin", "DE", nil, soon),
	}
	q, err := NewSuggestQuery("demo", []string{"solar"}, "Berlin", "", "DE", "Asia/Tokyo", 3)
	if err != nil {
		t.Fatal(err)
	}
	got := Rank(q, cands, now)
	var ids []string
	for _, s := range got {
		ids = append(ids, s.Event.ID)
	}
	if !slices.Equal(ids, []string{"near", "online", "boring"}) {
		t.Errorf("ranking = %v", ids)
	}
	if !slices.Contains(got[0].Reasons, "interest:solar") || !slices.Contains(got[0].Reasons, "city") {
		t.Errorf("reasons of the best = %v", got[0].Reasons)
	}
	if !slices.Contains(got[1].Reasons, "convenient_time") || q.Zone.String() != tokyo.String() {
		t.Errorf("online reasons = %v", got[1].Reasons)
	}
	if _, err := NewSuggestQuery("demo", nil, "", "", "", "Nowhere/Land", 99); !slices.Equal(fields(err), []string{"time_zone", "limit"}) {
		t.Errorf("bad query = %v", err)
	}
}

func TestOverrideOccurrence(t *testing.T) {
	e, _, err := NewEvent("demo", validSpec(), "e1", now)
	if err != nil {
		t.Fatal(err)
	}
	o := NewOccurrence(e, e.Start, "o1", now)
	moved, changed, err := OverrideOccurrence(e, o, Spec{Start: e.Start.Add(time.Hour), End: e.End.Add(time.Hour), Capacity: 5}, []string{"start_time", "end_time", "capacity"}, now)
	if err != nil || !slices.Equal(changed, []string{"start_time", "end_time", "capacity"}) || !moved.TimesOverridden || moved.Sequence != 1 {
		t.Errorf("override = %+v, %v, %v", moved, changed, err)
	}
	if _, _, err := OverrideOccurrence(e, o, Spec{}, []string{"time_zone"}, now); !slices.Equal(fields(err), []string{"update_mask"}) {
		t.Errorf("overriding the time zone = %v, want update_mask", err)
	}
	if _, _, err := OverrideOccurrence(e, o, Spec{End: e.Start.Add(-time.Hour)}, []string{"end_time"}, now); !slices.Equal(fields(err), []string{"end_time"}) {
		t.Errorf("end before start = %v, want end_time", err)
	}
}
