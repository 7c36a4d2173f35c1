package api

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kinshiphq/kinship/services/members/domain"
)

// maxImportBytes bounds the CSV an import spools: far above 100,000 rows
// of any real member or activity file, far below what fills a disk.
const maxImportBytes = 256 << 20

// errImportTooLarge ends an import whose CSV passes maxImportBytes.
var errImportTooLarge = fmt.Errorf("imports take at most %d MiB; split the file", maxImportBytes>>20)

// spool reads a whole import to a temporary file and counts its rows
// before anything is written, so a file past the limits is refused with
// nothing imported rather than after its first batches were committed.
// The caller reads the returned file from its start and closes it, which
// removes it.
func spool(r io.Reader) (io.ReadCloser, error) {
	f, err := os.CreateTemp("", "kinship-import-*.csv")
	if err != nil {
		return nil, fmt.Errorf("spool import: %w", err)
	}
	// Removed now: the open file lives until it is closed.
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spool import: %w", err)
	}
	counted := &countingWriter{w: f}
	rr := domain.NewRecordReader(io.TeeReader(io.LimitReader(r, maxImportBytes+1), counted))
	records := 0
	for {
		_, _, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var rowErr *domain.RowError
		if err != nil && !errors.As(err, &rowErr) {
			_ = f.Close()
			return nil, err
		}
		// The header is the first record; every later one is a row.
		if records++; records-1 > domain.MaxImportRows {
			_ = f.Close()
			return nil, errTooManyRows
		}
	}
	if counted.n > maxImportBytes {
		_ = f.Close()
		return nil, errImportTooLarge
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("spool import: %w", err)
	}
	return f, nil
}

// countingWriter counts what passes through to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
