// Package ical writes iCalendar (RFC 5545) data: calendars of events with
// VTIMEZONE definitions drawn from the Go time zone database, recurrence
// rules and exceptions, escaped TEXT values and lines folded at 75 octets.
// It does no I/O.
package ical

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ProdID names the product that wrote a calendar.
const ProdID = "-//Kinship//Events//EN"

// Calendar is one VCALENDAR.
type Calendar struct {
	// Name is shown by clients as the calendar's name (X-WR-CALNAME).
	Name string
	// Method is PUBLISH for feeds and downloads.
	Method string
	// Stamp is the DTSTAMP of every component.
	Stamp  time.Time
	Events []Event
}

// Statuses of an event.
const (
	StatusConfirmed = "CONFIRMED"
	StatusTentative = "TENTATIVE"
	StatusCancelled = "CANCELLED"
)

// Event is one VEVENT: a single event, a recurring series' master, or one
// changed occurrence of a series (RecurrenceID set).
type Event struct {
	UID      string
	Sequence int
	// Zone is the event's time zone; times in UTC are written with Z.
	Zone         *time.Location
	Start, End   time.Time
	RecurrenceID time.Time
	RRule        string
	ExDates      []time.Time
	// Through is the end of the last occurrence the component stands for,
	// so the VTIMEZONE covers it; zero means End.
	Through      time.Time
	Created      time.Time
	LastModified time.Time
	Summary      string
	Description  string
	Location     string
	URL          string
	Status       string
	Categories   []string
	// Transparent marks the event as not blocking time.
	Transparent bool
}

// Render writes cal as an iCalendar object.
func Render(cal Calendar) []byte {
	w := &writer{}
	w.line("BEGIN", nil, "VCALENDAR")
	w.line("VERSION", nil, "2.0")
	w.line("PRODID", nil, ProdID)
	w.line("CALSCALE", nil, "GREGORIAN")
	if cal.Method != "" {
		w.line("METHOD", nil, cal.Method)
	}
	if cal.Name != "" {
		w.line("X-WR-CALNAME", nil, Text(cal.Name))
	}
	for _, z := range zonesOf(cal.Events) {
		writeTimezone(w, z.loc, z.from, z.to)
	}
	for _, e := range cal.Events {
		writeEvent(w, e, cal.Stamp)
	}
	w.line("END", nil, "VCALENDAR")
	return w.buf.Bytes()
}

type span struct {
	loc      *time.Location
	from, to time.Time
}

// zonesOf returns each non-UTC zone the events use, with the span of time
// its definition must cover, in order of first use.
func zonesOf(events []Event) []span {
	var out []span
	for _, e := range events {
		if isUTC(e.Zone) {
			continue
		}
		through := e.Through
		if through.IsZero() || through.Before(e.End) {
			through = e.End
		}
		from := e.Start
		if !e.RecurrenceID.IsZero() && e.RecurrenceID.Before(from) {
			from = e.RecurrenceID
		}
		i := slices.IndexFunc(out, func(s span) bool { return s.loc.String() == e.Zone.String() })
		if i < 0 {
			out = append(out, span{loc: e.Zone, from: from, to: through})
			continue
		}
		if from.Before(out[i].from) {
			out[i].from = from
		}
		if through.After(out[i].to) {
			out[i].to = through
		}
	}
	return out
}

func isUTC(loc *time.Location) bool {
	if loc == nil {
		return true
	}
	switch loc.String() {
	case "UTC", "Etc/UTC", "Etc/UCT", "Etc/Zulu", "Zulu", "UCT", "Universal", "Etc/Universal":
		return true
	}
	return false
}

// writeTimezone defines loc from the observance in force at from to the
// last transition before to: one STANDARD or DAYLIGHT component per
// period, with its onset in the local time it replaces.
func writeTimezone(w *writer, loc *time.Location, from, to time.Time) {
	w.line("BEGIN", nil, "VTIMEZONE")
	w.line("TZID", nil, loc.String())
	t := from.In(loc).AddDate(0, 0, -1)
	start, end := t.ZoneBounds()
	prevOffset := offsetAt(t)
	if !start.IsZero() {
		prevOffset = offsetAt(start.Add(-time.Second))
	} else {
		start = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	for {
		writeObservance(w, t, start, prevOffset)
		if end.IsZero() || end.After(to.AddDate(0, 0, 1)) {
			break
		}
		prevOffset = offsetAt(t)
		t = end.In(loc)
		start, end = t.ZoneBounds()
	}
	w.line("END", nil, "VTIMEZONE")
}

func offsetAt(t time.Time) int {
	_, off := t.Zone()
	return off
}

func writeObservance(w *writer, t, onset time.Time, fromOffset int) {
	name, offset := t.Zone()
	kind := "STANDARD"
	if t.IsDST() {
		kind = "DAYLIGHT"
	}
	w.line("BEGIN", nil, kind)
	w.line("DTSTART", nil, onset.UTC().Add(time.Duration(fromOffset)*time.Second).Format("20060102T150405"))
	w.line("TZOFFSETFROM", nil, formatOffset(fromOffset))
	w.line("TZOFFSETTO", nil, formatOffset(offset))
	if name != "" && !strings.ContainsAny(name, "+-") {
		w.line("TZNAME", nil, Text(name))
	}
	w.line("END", nil, kind)
}

func formatOffset(seconds int) string {
	sign := '+'
	if seconds < 0 {
		sign, seconds = '-', -seconds
	}
	h, m, s := seconds/3600, seconds%3600/60, seconds%60
	if s != 0 {
		return fmt.Sprintf("%c%02d%02d%02d", sign, h, m, s)
	}
	return fmt.Sprintf("%c%02d%02d", sign, h, m)
}

func writeEvent(w *writer, e Event, stamp time.Time) {
	w.line("BEGIN", nil, "VEVENT")
	w.line("UID", nil, Text(e.UID))
	w.line("DTSTAMP", nil, utc(stamp))
	if !e.RecurrenceID.IsZero() {
		w.dateTime("RECURRENCE-ID", e.Zone, e.RecurrenceID)
	}
	w.dateTime("DTSTART", e.Zone, e.Start)
	w.dateTime("DTEND", e.Zone, e.End)
	if e.RRule != "" {
		w.line("RRULE", nil, e.RRule)
	}
	if len(e.ExDates) > 0 {
		values := make([]string, len(e.ExDates))
		for i, d := range e.ExDates {
			values[i] = localOrUTC(e.Zone, d)
		}
		w.line("EXDATE", tzParam(e.Zone), strings.Join(values, ","))
	}
	w.line("SEQUENCE", nil, fmt.Sprint(e.Sequence))
	if !e.Created.IsZero() {
		w.line("CREATED", nil, utc(e.Created))
	}
	if !e.LastModified.IsZero() {
		w.line("LAST-MODIFIED", nil, utc(e.LastModified))
	}
	w.line("SUMMARY", nil, Text(e.Summary))
	if e.Description != "" {
		w.line("DESCRIPTION", nil, Text(e.Description))
	}
	if e.Location != "" {
		w.line("LOCATION", nil, Text(e.Location))
	}
	if e.URL != "" {
		w.line("URL", []string{"VALUE=URI"}, e.URL)
	}
	if len(e.Categories) > 0 {
		values := make([]string, len(e.Categories))
		for i, c := range e.Categories {
			values[i] = Text(c)
		}
		w.line("CATEGORIES", nil, strings.Join(values, ","))
	}
	if e.Status != "" {
		w.line("STATUS", nil, e.Status)
	}
	if e.Transparent {
		w.line("TRANSP", nil, "TRANSPARENT")
	} else {
		w.line("TRANSP", nil, "OPAQUE")
	}
	w.line("END", nil, "VEVENT")
}

func utc(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

func localOrUTC(loc *time.Location, t time.Time) string {
	if isUTC(loc) {
		return utc(t)
	}
	return t.In(loc).Format("20060102T150405")
}

func tzParam(loc *time.Location) []string {
	if isUTC(loc) {
		return nil
	}
	return []string{"TZID=" + paramValue(loc.String())}
}

// paramValue quotes a parameter value holding characters a bare one may
// not.
func paramValue(v string) string {
	if strings.ContainsAny(v, ":;,") {
		return `"` + strings.ReplaceAll(v, `"`, "") + `"`
	}
	return v
}

// Text escapes a TEXT value: backslash, semicolon, comma and line breaks;
// invalid UTF-8 becomes U+FFFD, and other control characters (which
// RFC 5545 does not allow in TEXT) are dropped.
func Text(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && isControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`).Replace(s)
}

// isControl reports the characters RFC 5545 calls CONTROL.
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

type writer struct {
	buf bytes.Buffer
}

func (w *writer) dateTime(name string, loc *time.Location, t time.Time) {
	w.line(name, tzParam(loc), localOrUTC(loc, t))
}

// line writes one content line, folded so no line exceeds 75 octets
// (continuations start with a space), never splitting a UTF-8 sequence.
// Whatever a caller passes, one call writes one content line: control
// characters other than tab (a line break among them) are dropped and
// invalid UTF-8 replaced, so no value can start a property of its own.
func (w *writer) line(name string, params []string, value string) {
	var l strings.Builder
	l.WriteString(name)
	for _, p := range params {
		l.WriteString(";")
		l.WriteString(p)
	}
	l.WriteString(":")
	l.WriteString(value)
	s := strings.Map(func(r rune) rune {
		if r != '\t' && isControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(l.String(), "\uFFFD"))
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.buf.WriteString(s[:cut])
		w.buf.WriteString("\r\n ")
		s = s[cut:]
		limit = 74 // the leading space counts
	}
	w.buf.WriteString(s)
	w.buf.WriteString("\r\n")
}
