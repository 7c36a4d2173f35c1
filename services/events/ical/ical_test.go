package ical_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/teambition/rrule-go"

	"github.com/kinshiphq/kinship/services/events/domain"
	"github.com/kinshiphq/kinship/services/events/ical"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Parse reads data back with a maintained iCalendar library, after
// checking the line rules the library is lenient about.
func Parse(t *testing.T, data []byte) *ics.Calendar {
	t.Helper()
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		t.Error("calendar does not end with CRLF")
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line %d has %d octets: %q", i+1, len(line), line)
		}
		if strings.Contains(line, "\n") {
			t.Errorf("line %d holds a bare LF", i+1)
		}
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse calendar: %v\n%s", err, data)
	}
	return cal
}

func prop(c *ics.ComponentBase, p ics.ComponentProperty) string {
	if v := c.GetProperty(p); v != nil {
		return v.Value
	}
	return ""
}

func TestRenderedCalendarParsesBackWithZonesRecurrenceAndText(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	start := time.Date(2026, 10, 13, 18, 0, 0, 0, berlin) // CEST; the series crosses into CET on 25 October
	rule, starts, err := domain.Expand("FREQ=WEEKLY;COUNT=6", []time.Time{time.Date(2026, 10, 27, 18, 0, 0, 0, berlin)}, start.UTC(), berlin)
	if err != nil {
		t.Fatal(err)
	}
	long := "Bring what is broken; we fix it, together.\nSecond line with ümlauts and emoji 🚲🚲🚲 " + strings.Repeat("long text ", 20) + `back\slash`
	moved := starts[2].Add(time.Hour)
	cal := ical.Calendar{Name: "demo events", Method: "PUBLISH", Stamp: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), Events: []ical.Event{
		{UID: "e1@demo", Sequence: 3, Zone: berlin, Start: start, End: start.Add(2 * time.Hour), RRule: rule,
			ExDates: []time.Time{time.Date(2026, 10, 27, 18, 0, 0, 0, berlin)}, Through: starts[len(starts)-1].Add(2 * time.Hour),
			Summary: "Repair café, Berlin", Description: long, Location: "Hall; Main St 1, Berlin", Status: ical.StatusConfirmed,
			Categories: []string{"repair", "a,b"}},
		{UID: "e1@demo", Sequence: 4, Zone: berlin, RecurrenceID: starts[2], Start: moved, End: moved.Add(2 * time.Hour),
			Summary: "Repair café (late)", Status: ical.StatusConfirmed},
		{UID: "e2@demo", Sequence: 1, Zone: time.UTC, Start: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
			End: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Summary: "Cancelled call", Status: ical.StatusCancelled, URL: "https://meet.example.org/x"},
	}}
	parsed := Parse(t, ical.Render(cal))

	events := parsed.Events()
	if len(events) != 3 {
		t.Fatalf("events = %d, want 3", len(events))
	}
	master := &events[0].ComponentBase
	if got := prop(master, ics.ComponentPropertyDescription); got != long {
		t.Errorf("description did not survive escaping and folding:\n got %q\nwant %q", got, long)
	}
	if got := prop(master, ics.ComponentPropertySummary); got != "Repair café, Berlin" {
		t.Errorf("summary = %q", got)
	}
	if got := prop(master, ics.ComponentPropertyLocation); got != "Hall; Main St 1, Berlin" {
		t.Errorf("location = %q", got)
	}
	gotStart, err := events[0].GetStartAt()
	if err != nil || !gotStart.Equal(start) || gotStart.Location().String() != "Europe/Berlin" {
		t.Errorf("DTSTART = %v (%v), want %v in Europe/Berlin", gotStart, err, start)
	}
	if ts := master.GetProperty(ics.ComponentPropertyDtStart); ts.ICalParameters["TZID"][0] != "Europe/Berlin" {
		t.Errorf("DTSTART parameters = %v", ts.ICalParameters)
	}

	// The recurrence, expanded from what was parsed, is the series'.
	dtstart, _ := events[0].GetStartAt()
	set := &rrule.Set{}
	r, err := rrule.StrToRRule(prop(master, ics.ComponentPropertyRrule))
	if err != nil {
		t.Fatalf("RRULE %q: %v", prop(master, ics.ComponentPropertyRrule), err)
	}
	set.RRule(r)
	set.DTStart(dtstart)
	ex := master.GetProperty(ics.ComponentPropertyExdate)
	for _, v := range strings.Split(ex.Value, ",") {
		d, err := time.ParseInLocation("20060102T150405", v, mustZone(t, ex.ICalParameters["TZID"][0]))
		if err != nil {
			t.Fatal(err)
		}
		set.ExDate(d)
	}
	if got := set.All(); !slices.EqualFunc(got, starts, time.Time.Equal) {
		t.Errorf("expanded occurrences = %v, want %v", got, starts)
	}

	override := &events[1].ComponentBase
	rid := override.GetProperty(ics.ComponentPropertyRecurrenceId)
	ridTime, err := time.ParseInLocation("20060102T150405", rid.Value, mustZone(t, rid.ICalParameters["TZID"][0]))
	if err != nil || !ridTime.Equal(starts[2]) || prop(override, ics.ComponentPropertyUniqueId) != "e1@demo" {
		t.Errorf("override RECURRENCE-ID = %v (%v), UID %q", ridTime, err, prop(override, ics.ComponentPropertyUniqueId))
	}
	if prop(override, ics.ComponentPropertySequence) != "4" {
		t.Errorf("override SEQUENCE = %q", prop(override, ics.ComponentPropertySequence))
	}

	cancelled := &events[2].ComponentBase
	if prop(cancelled, ics.ComponentPropertyStatus) != "CANCELLED" {
		t.Errorf("STATUS = %q, want CANCELLED", prop(cancelled, ics.ComponentPropertyStatus))
	}
	if s, err := events[2].GetStartAt(); err != nil || !s.Equal(cal.Events[2].Start) || s.Location() != time.UTC {
		t.Errorf("UTC DTSTART = %v, %v", s, err)
	}

	zones := parsed.Timezones()
	if len(zones) != 1 || prop(&zones[0].ComponentBase, ics.ComponentPropertyTzid) != "Europe/Berlin" {
		t.Fatalf("VTIMEZONEs = %d, want Europe/Berlin only (UTC needs none)", len(zones))
	}
	checkZone(t, zones[0], berlin, start, starts[len(starts)-1])
}

// checkZone verifies every observance of a VTIMEZONE against the Go time
// zone database, and that the zone covers from..to with both offsets.
func checkZone(t *testing.T, z *ics.VTimezone, loc *time.Location, from, to time.Time) {
	t.Helper()
	offsets := map[string]bool{}
	var onsets []time.Time
	for _, c := range z.Components {
		var base *ics.ComponentBase
		switch o := c.(type) {
		case *ics.Standard:
			base = &o.ComponentBase
		case *ics.Daylight:
			base = &o.ComponentBase
		default:
			t.Errorf("unexpected component %T in VTIMEZONE", c)
			continue
		}
		fromOff, toOff := parseOffset(t, prop(base, ics.ComponentProperty(ics.PropertyTzoffsetfrom))), parseOffset(t, prop(base, ics.ComponentProperty(ics.PropertyTzoffsetto)))
		local, err := time.Parse("20060102T150405", prop(base, ics.ComponentPropertyDtStart))
		if err != nil {
			t.Fatal(err)
		}
		onset := local.Add(-time.Duration(fromOff) * time.Second) // DTSTART is in the offset it replaces
		onsets = append(onsets, onset)
		if _, off := onset.In(loc).Zone(); off != toOff {
			t.Errorf("observance from %s: TZOFFSETTO %d, the zone database says %d", onset, toOff, off)
		}
		if onset.Year() > 1970 {
			if _, off := onset.Add(-time.Second).In(loc).Zone(); off != fromOff {
				t.Errorf("observance from %s: TZOFFSETFROM %d, the zone database says %d", onset, fromOff, off)
			}
		}
		offsets[prop(base, ics.ComponentProperty(ics.PropertyTzoffsetto))] = true
	}
	if !offsets["+0100"] || !offsets["+0200"] {
		t.Errorf("offsets %v, want +0100 and +0200", offsets)
	}
	if len(onsets) == 0 || onsets[0].After(from) {
		t.Errorf("first observance %v starts after %s", onsets, from)
	}
}

func parseOffset(t *testing.T, s string) int {
	t.Helper()
	var h, m int
	if _, err := fmt.Sscanf(s[1:], "%02d%02d", &h, &m); err != nil {
		t.Fatalf("offset %q: %v", s, err)
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off
}

func TestZonesWithoutDaylightSavingAndSouthernHemisphere(t *testing.T) {
	for _, name := range []string{"Asia/Tokyo", "Australia/Sydney", "America/St_Johns"} {
		t.Run(name, func(t *testing.T) {
			loc := mustZone(t, name)
			start := time.Date(2026, 3, 30, 19, 30, 0, 0, loc)
			data := ical.Render(ical.Calendar{Stamp: start, Events: []ical.Event{{UID: "x", Zone: loc, Start: start, End: start.Add(time.Hour),
				Through: start.AddDate(0, 9, 0), Summary: "x"}}})
			parsed := Parse(t, data)
			got, err := parsed.Events()[0].GetStartAt()
			if err != nil || !got.Equal(start) {
				t.Errorf("start = %v, %v; want %v", got, err, start)
			}
			z := parsed.Timezones()[0]
			for _, c := range z.Components {
				var base *ics.ComponentBase
				switch o := c.(type) {
				case *ics.Standard:
					base = &o.ComponentBase
				case *ics.Daylight:
					base = &o.ComponentBase
				}
				local, _ := time.Parse("20060102T150405", prop(base, ics.ComponentPropertyDtStart))
				onset := local.Add(-time.Duration(parseOffset(t, prop(base, ics.ComponentProperty(ics.PropertyTzoffsetfrom)))) * time.Second)
				if _, off := onset.In(loc).Zone(); off != parseOffset(t, prop(base, ics.ComponentProperty(ics.PropertyTzoffsetto))) {
					t.Errorf("observance at %s disagrees with the zone database", onset)
				}
			}
		})
	}
}

func TestTextEscaping(t *testing.T) {
	if got := ical.Text("a\\b;c,d\r\ne"); got != `a\\b\;c\,d\ne` {
		t.Errorf("Text = %q", got)
	}
}
