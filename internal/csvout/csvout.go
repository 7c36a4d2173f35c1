// Package csvout is the one way Kinship writes CSV that a person opens in a
// spreadsheet: every cell a user could have typed is neutralised against
// formula injection (OWASP "CSV Injection"), and long exports are sent in
// chunks as they grow.
package csvout

import (
	"bytes"
	"encoding/csv"
	"regexp"
	"strings"
)

// triggers are the first characters that make a spreadsheet read a cell as
// a formula (or, for tab and carriage return, shift it into one).
const triggers = "=+-@\t\r"

// number matches a plain decimal number, which no spreadsheet runs as a
// formula, so "-12.50" stays a number.
var number = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// Neutralise returns s so that a spreadsheet shows it as text: a cell
// starting with =, +, -, @, tab or carriage return gets a leading
// apostrophe, unless it is a plain number.
func Neutralise(s string) string {
	if s == "" || !strings.ContainsRune(triggers, rune(s[0])) || number.MatchString(s) {
		return s
	}
	return "'" + s
}

// Restore undoes Neutralise for a cell read back from a file Kinship
// wrote (an export imported again): a leading apostrophe before a trigger
// character is dropped. The value must still be validated as any input.
func Restore(s string) string {
	if len(s) >= 2 && s[0] == '\'' && strings.ContainsRune(triggers, rune(s[1])) && !number.MatchString(s[1:]) {
		return s[1:]
	}
	return s
}

// Writer writes neutralised CSV rows and hands them to send in chunks of
// about ChunkSize bytes; call Flush at the end.
type Writer struct {
	buf  bytes.Buffer
	csv  *csv.Writer
	send func([]byte) error
	rows int
}

// ChunkSize is roughly how many bytes each send carries.
const ChunkSize = 32 << 10

// NewWriter returns a writer that passes each filled chunk to send; the
// slice is send's to keep.
func NewWriter(send func(chunk []byte) error) *Writer {
	w := &Writer{send: send}
	w.csv = csv.NewWriter(&w.buf)
	return w
}

// Header writes the column names (not counted as a row).
func (w *Writer) Header(cols ...string) error { return w.write(cols) }

// Row writes one row, every cell neutralised.
func (w *Writer) Row(cells ...string) error {
	if err := w.write(cells); err != nil {
		return err
	}
	w.rows++
	return nil
}

// Rows is how many rows were written.
func (w *Writer) Rows() int { return w.rows }

func (w *Writer) write(cells []string) error {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = Neutralise(c)
	}
	if err := w.csv.Write(out); err != nil {
		return err
	}
	if w.buf.Len() >= ChunkSize {
		return w.Flush()
	}
	return nil
}

// Flush sends what is buffered.
func (w *Writer) Flush() error {
	w.csv.Flush()
	if err := w.csv.Error(); err != nil {
		return err
	}
	if w.buf.Len() == 0 {
		return nil
	}
	err := w.send(bytes.Clone(w.buf.Bytes()))
	w.buf.Reset()
	return err
}
