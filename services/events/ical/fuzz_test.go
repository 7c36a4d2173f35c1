package ical_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kinshiphq/kinship/services/events/ical"
)

// properties a rendered calendar may hold; anything else was injected.
var properties = map[string]bool{
	"BEGIN": true, "END": true, "VERSION": true, "PRODID": true, "CALSCALE": true, "METHOD": true, "X-WR-CALNAME": true,
	"TZID": true, "DTSTART": true, "TZOFFSETFROM": true, "TZOFFSETTO": true, "TZNAME": true, "UID": true, "DTSTAMP": true,
	"RECURRENCE-ID": true, "DTEND": true, "RRULE": true, "EXDATE": true, "SEQUENCE": true, "CREATED": true, "LAST-MODIFIED": true,
	"SUMMARY": true, "DESCRIPTION": true, "LOCATION": true, "URL": true, "CATEGORIES": true, "STATUS": true, "TRANSP": true,
}

var zones = []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"}

// FuzzRender feeds organiser- and member-typed text (titles,
// descriptions, places, tags, a calendar name) into a calendar and checks
// what a calendar app would read back: well-formed content lines of at
// most 75 octets in valid UTF-8, no control characters, only the
// properties the writer writes (text can never start one of its own), and
// each text value reading back as what was typed, less what RFC 5545
// cannot carry.
//
//	go test -run XXX -fuzz FuzzRender -fuzztime 60s ./services/events/ical/
func FuzzRender(f *testing.F) {
	f.Add("Repair café", "Bring what is broken.", "Hall, Main St 1", "https://meet.example.org/r", "repair", "demo events", uint8(1), int64(0), uint16(120))
	f.Add("Talk\r\nATTENDEE:mailto:attacker@example.org", "line one\nline two\rthree", "a;b,c\\d", "https://x.example/\r\nX-INJECT:1", "tag,with;commas",
		"name\nMETHOD:REQUEST", uint8(0), int64(86400*400), uint16(0))
	f.Add(strings.Repeat("é", 200), strings.Repeat("語", 100), strings.Repeat("\U0001F600", 80), "", "", strings.Repeat("x", 300), uint8(2), int64(-86400), uint16(59))
	f.Add("\xff\xfe\x80\x80\x80 bad bytes", "\x00\x01\x7f\x1b[31mred", "\t tabbed", "\x80", "\xc3", "\xe2\x82", uint8(3), int64(1), uint16(7*24*60))
	f.Fuzz(func(t *testing.T, summary, description, location, url, category, name string, zone uint8, offset int64, minutes uint16) {
		loc, err := time.LoadLocation(zones[int(zone)%len(zones)])
		if err != nil {
			t.Fatal(err)
		}
		// Events lie within the domain's bounds: a start in this century,
		// at most a week long.
		start := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(offset%(50*365*86400)) * time.Second)
		end := start.Add(time.Duration(int(minutes)%(7*24*60+1)) * time.Minute)
		e := ical.Event{UID: "e1@demo.events.kinship", Zone: loc, Start: start, End: end, Summary: summary, Description: description,
			Location: location, URL: url, Status: ical.StatusConfirmed, Categories: []string{category}, Created: start, LastModified: start}
		out := string(ical.Render(ical.Calendar{Name: name, Method: "PUBLISH", Stamp: start, Events: []ical.Event{e}}))

		if !strings.HasSuffix(out, "\r\n") {
			t.Fatal("calendar does not end with CRLF")
		}
		var unfolded []string
		for i, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if len(line) > 75 {
				t.Fatalf("line %d has %d octets", i+1, len(line))
			}
			if !utf8.ValidString(line) {
				t.Fatalf("line %d is not UTF-8: %q", i+1, line)
			}
			for _, r := range line {
				if (r < 0x20 && r != '\t') || r == 0x7f {
					t.Fatalf("line %d holds control character %U: %q", i+1, r, line)
				}
			}
			if rest, ok := strings.CutPrefix(line, " "); ok && len(unfolded) > 0 {
				unfolded[len(unfolded)-1] += rest
				continue
			}
			unfolded = append(unfolded, line)
		}
		values := map[string][]string{}
		for _, line := range unfolded {
			head, value, ok := strings.Cut(line, ":")
			prop, _, _ := strings.Cut(head, ";")
			if !ok || !properties[prop] {
				t.Fatalf("unexpected content line %q in\n%s", line, out)
			}
			values[prop] = append(values[prop], value)
		}
		if n := len(values["SUMMARY"]); n != 1 {
			t.Fatalf("%d SUMMARY lines, want 1", n)
		}
		if len(values["BEGIN"]) != len(values["END"]) {
			t.Fatalf("BEGIN %v but END %v", values["BEGIN"], values["END"])
		}
		for prop, typed := range map[string]string{"SUMMARY": summary, "X-WR-CALNAME": name, "DESCRIPTION": description} {
			if typed == "" && prop != "SUMMARY" {
				continue // not written
			}
			if got, want := unescape(values[prop][0]), typedText(typed); got != want {
				t.Errorf("%s reads back as %q, want %q", prop, got, want)
			}
		}
	})
}

// typedText is what a TEXT value can carry of s: valid UTF-8, line breaks
// as LF, no other control character but tab.
func typedText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f) {
			return -1
		}
		return r
	}, s)
}

// unescape reads a TEXT value as RFC 5545 section 3.3.11 says.
func unescape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}
