package domain

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/kinshiphq/kinship/internal/csvout"
	"github.com/kinshiphq/kinship/internal/validate"
)

// Import limits.
const (
	MaxImportRows   = 100_000
	MaxImportRecord = 64 << 10 // one CSV record
)

// ImportColumns are the columns an import may have; email and
// display_name are required.
func ImportColumns() []string {
	return []string{"email", "display_name", "interests", "skills", "locale", "time_zone", "city", "region",
		"country_code", "motivation", "availability_hours_per_month", "email_consent"}
}

// ImportRow is one parsed row: the profile fields it sets.
type ImportRow struct {
	Line    int64
	Profile Profile
	// Set names the columns the row has values for; only they change on
	// re-import.
	Set          map[string]bool
	EmailConsent *bool
}

// RowError is one row the import could not use.
type RowError struct {
	Line   int64
	Field  string
	Reason string
}

// RecordReader splits a CSV stream into records, tracking line numbers,
// bounding record size and surviving malformed records: each bad record
// becomes a RowError and reading goes on with the next line.
type RecordReader struct {
	r    *bufio.Reader
	line int64
}

// NewRecordReader reads CSV from r, dropping a UTF-8 byte-order mark.
func NewRecordReader(r io.Reader) *RecordReader {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	return &RecordReader{r: br}
}

// Next returns the next record and the line it starts on; a malformed or
// oversized record returns a *RowError; the end returns io.EOF.
func (rr *RecordReader) Next() ([]string, int64, error) {
	var buf []byte
	start := rr.line + 1
	for {
		line, err := rr.readLine()
		var tooLong *RowError
		if errors.As(err, &tooLong) {
			if len(buf) > 0 {
				rr.skipRecordRest(buf) // the long line's quotes are unknown; assume the field goes on
			}
			return nil, start, &RowError{Line: start, Reason: fmt.Sprintf("record is longer than %d KiB", MaxImportRecord>>10)}
		}
		if err != nil && len(line) == 0 && len(buf) == 0 {
			return nil, 0, err
		}
		buf = append(buf, line...)
		if len(buf) > MaxImportRecord {
			rr.skipRecordRest(buf)
			return nil, start, &RowError{Line: start, Reason: fmt.Sprintf("record is longer than %d KiB", MaxImportRecord>>10)}
		}
		// A record ends at a line break outside a quoted field; a quoted
		// field may hold line breaks.
		if !endsInsideQuotes(buf) || err != nil {
			break
		}
	}
	trimmed := bytes.TrimRight(buf, "\r\n")
	if len(bytes.TrimSpace(trimmed)) == 0 {
		return rr.Next() // blank lines are skipped
	}
	cr := csv.NewReader(bytes.NewReader(trimmed))
	cr.FieldsPerRecord = -1
	rec, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		reason := "malformed CSV"
		if errors.As(err, &pe) {
			reason = "malformed CSV: " + pe.Err.Error()
		}
		return nil, start, &RowError{Line: start, Reason: reason}
	}
	return rec, start, nil
}

// readLine reads one physical line, at most MaxImportRecord bytes; longer
// lines are consumed to their end and reported.
func (rr *RecordReader) readLine() ([]byte, error) {
	var out []byte
	for {
		chunk, err := rr.r.ReadSlice('\n')
		out = append(out, chunk...)
		if len(out) > MaxImportRecord {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = rr.r.ReadSlice('\n')
			}
			rr.line++
			return nil, &RowError{}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			if len(out) > 0 {
				rr.line++
				return out, nil
			}
			return nil, err
		}
		rr.line++
		return out, nil
	}
}

// skipRecordRest drops the rest of an oversized multi-line record: lines
// until its quoted field closes.
func (rr *RecordReader) skipRecordRest(buf []byte) {
	tail := buf
	for endsInsideQuotes(tail) {
		line, err := rr.readLine()
		var tooLong *RowError
		switch {
		case errors.As(err, &tooLong):
			continue
		case err != nil && len(line) == 0:
			return
		}
		// Only whether the quote is still open matters: keep a short tail
		// that starts inside the quoted field.
		tail = append([]byte{'"'}, line...)
	}
}

// endsInsideQuotes reports whether a CSV fragment ends within a quoted
// field. A quote opens a field only at the field's start.
func endsInsideQuotes(b []byte) bool {
	inQuotes, fieldStart := false, true
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inQuotes:
			if c == '"' {
				if i+1 < len(b) && b[i+1] == '"' {
					i++
				} else {
					inQuotes = false
				}
			}
		case c == '"' && fieldStart:
			inQuotes, fieldStart = true, false
		case c == ',' || c == '\n' || c == '\r':
			fieldStart = true
		default:
			fieldStart = false
		}
	}
	return inQuotes
}

// ImportHeader maps column names to positions.
type ImportHeader map[string]int

// ParseImportHeader checks the header row.
func ParseImportHeader(rec []string) (ImportHeader, error) {
	h := ImportHeader{}
	for i, name := range rec {
		name = strings.ToLower(strings.TrimSpace(name))
		if !slices.Contains(ImportColumns(), name) {
			return nil, &RowError{Line: 1, Field: name, Reason: "unknown column; known columns are " + strings.Join(ImportColumns(), ", ")}
		}
		if _, dup := h[name]; dup {
			return nil, &RowError{Line: 1, Field: name, Reason: "column appears twice"}
		}
		h[name] = i
	}
	for _, required := range []string{"email", "display_name"} {
		if _, ok := h[required]; !ok {
			return nil, &RowError{Line: 1, Field: required, Reason: "required column is missing"}
		}
	}
	return h, nil
}

// Row reads one record into an ImportRow, validating it against the
// community's settings. Every problem of the row is reported.
func (h ImportHeader) Row(line int64, rec []string, s Settings) (ImportRow, []RowError) {
	if len(rec) != len(h) {
		return ImportRow{}, []RowError{{Line: line, Reason: fmt.Sprintf("has %d fields, the header %d", len(rec), len(h))}}
	}
	row := ImportRow{Line: line, Set: map[string]bool{}}
	get := func(col string) (string, bool) {
		i, ok := h[col]
		if !ok {
			return "", false
		}
		// A cell of a Kinship export comes neutralised; restore it, then
		// validate it as any input.
		v := strings.TrimSpace(csvout.Restore(rec[i]))
		if v != "" {
			row.Set[col] = true
		}
		return v, v != ""
	}
	list := func(col string) []string {
		v, ok := get(col)
		if !ok {
			return nil
		}
		var out []string
		for _, part := range strings.Split(v, ";") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	p := &row.Profile
	p.Email, _ = get("email")
	p.DisplayName, _ = get("display_name")
	p.Interests, p.Skills = list("interests"), list("skills")
	p.Locale, _ = get("locale")
	p.TimeZone, _ = get("time_zone")
	p.Location.City, _ = get("city")
	p.Location.Region, _ = get("region")
	p.Location.CountryCode, _ = get("country_code")
	p.Motivation, _ = get("motivation")
	var errs []RowError
	if v, ok := get("availability_hours_per_month"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, RowError{Line: line, Field: "availability_hours_per_month", Reason: "is not a whole number"})
		}
		p.AvailabilityHours = n
	}
	if v, ok := get("email_consent"); ok {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			errs = append(errs, RowError{Line: line, Field: "email_consent", Reason: "must be true or false"})
		}
		row.EmailConsent = &b
	}
	validated, err := p.Validate(s)
	for _, fe := range validate.FieldErrors(err) {
		errs = append(errs, RowError{Line: line, Field: importColumn(fe.Field), Reason: fe.Reason})
	}
	row.Profile = validated
	return row, errs
}

// importColumn names the CSV column of a profile field.
func importColumn(field string) string {
	if c, ok := strings.CutPrefix(field, "location."); ok {
		return c
	}
	return field
}

func (e *RowError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}
