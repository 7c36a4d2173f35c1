package domain

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func nowForTest() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }

type readResult struct {
	fields []string
	line   int64
	err    string
}

func readAll(t *testing.T, input string) []readResult {
	t.Helper()
	rr := NewRecordReader(strings.NewReader(input))
	var out []readResult
	for {
		rec, line, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		r := readResult{fields: rec, line: line}
		if err != nil {
			var re *RowError
			if !errors.As(err, &re) {
				t.Fatalf("unexpected error %v", err)
			}
			r.err, r.line = re.Reason, re.Line
		}
		out = append(out, r)
		if len(out) > 100 {
			t.Fatal("reader does not end")
		}
	}
}

func TestRecordReader(t *testing.T) {
	huge := strings.Repeat("x", 10<<20)
	input := "\xEF\xBB\xBFemail,display_name\r\n" +
		"ada@example.org,Ada\r\n" +
		"\n" +
		`bob@example.org,"Bob ""the builder"""` + "\n" +
		`cleo@example.org,"Cleo` + "\n" + `on two lines"` + "\n" +
		`dan@example.org,bare"quote` + "\n" +
		"eve@example.org," + huge + "\n" +
		"fay@example.org,Fay"
	got := readAll(t, input)
	want := []readResult{
		{fields: []string{"email", "display_name"}, line: 1},
		{fields: []string{"ada@example.org", "Ada"}, line: 2},
		{fields: []string{"bob@example.org", `Bob "the builder"`}, line: 4},
		{fields: []string{"cleo@example.org", "Cleo\non two lines"}, line: 5},
		{line: 7, err: "malformed CSV"},
		{line: 8, err: "record is longer than 64 KiB"},
		{fields: []string{"fay@example.org", "Fay"}, line: 9},
	}
	if len(got) != len(want) {
		t.Fatalf("read %d results, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].line != want[i].line || !slices.Equal(got[i].fields, want[i].fields) || !strings.HasPrefix(got[i].err, want[i].err) {
			t.Errorf("result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestImportHeaderAndRows(t *testing.T) {
	if _, err := ParseImportHeader([]string{"email", "nickname", "display_name"}); err == nil || !strings.Contains(err.Error(), "nickname") {
		t.Errorf("unknown column error = %v", err)
	}
	if _, err := ParseImportHeader([]string{"display_name"}); err == nil || !strings.Contains(err.Error(), "email") {
		t.Errorf("missing email error = %v", err)
	}
	h, err := ParseImportHeader([]string{"Email", "display_name", "interests", "country_code", "availability_hours_per_month", "email_consent"})
	if err != nil {
		t.Fatal(err)
	}
	row, errs := h.Row(3, []string{"ADA@example.org", "Ada", "solar; climate", "de", "12", "TRUE"}, DefaultSettings("demo"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if row.Profile.Email != "ada@example.org" || !slices.Equal(row.Profile.Interests, []string{"climate", "solar"}) ||
		row.Profile.Location.CountryCode != "DE" || row.Profile.AvailabilityHours != 12 || row.EmailConsent == nil || !*row.EmailConsent {
		t.Errorf("row = %+v", row)
	}
	if !row.Set["interests"] || row.Set["locale"] {
		t.Errorf("set columns = %v", row.Set)
	}
	_, errs = h.Row(4, []string{"nope", "", "Bad Tag", "XX", "lots", "maybe"}, DefaultSettings("demo"))
	var cols []string
	for _, e := range errs {
		if e.Line != 4 {
			t.Errorf("error on line %d, want 4", e.Line)
		}
		cols = append(cols, e.Field)
	}
	slices.Sort(cols)
	want := []string{"availability_hours_per_month", "country_code", "display_name", "email", "email_consent", "interests"}
	if !slices.Equal(cols, want) {
		t.Errorf("bad columns = %v, want %v", cols, want)
	}
	if _, errs := h.Row(5, []string{"a@example.org"}, DefaultSettings("demo")); len(errs) != 1 {
		t.Errorf("short row errors = %v, want one", errs)
	}
}
