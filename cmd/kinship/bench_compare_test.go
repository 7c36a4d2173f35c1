//go:build !nodev

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const compareOld = `# Benchmarks

<!-- bench:join:start -->
### JoinCommunity against its floor

| engine | shape | joins | joins/s | × floor | p50 | p99 | load |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
| SQLite | accepted | 5000 | 2000 | 0.40 | 2.0 ms | 12.0 ms | 1.10 |
| SQLite | floor | 5000 | 5000 | 1.00 | 1.0 ms | 5.0 ms | 1.20 |

<!-- bench:join:end -->

<!-- bench:announce:start -->
### Announcement

| e-mails | last delivered after | e-mails/s | peak RSS |
| ---: | ---: | ---: | ---: |
| 100000 | 19.8 s | 5039 | 120 MB |

<!-- bench:announce:end -->

<!-- bench:stack:start -->
### Start

| process | measure | value | target | met | load |
| --- | --- | ---: | ---: | :---: | ---: |
| kinship dev | start | 2.50 s | 3 s | yes | 1.00 |

<!-- bench:stack:end -->
`

func TestCompareBench(t *testing.T) {
	tests := []struct {
		name        string
		new         string
		regressions []string // keys reported as regressions
		compared    int
	}{
		{name: "the same file has no regression", new: compareOld, compared: 12},
		{
			name: "slower joins and a higher p99 are regressions; a different load is not",
			new: strings.NewReplacer("| SQLite | accepted | 5000 | 2000 | 0.40 | 2.0 ms | 12.0 ms | 1.10 |",
				"| SQLite | accepted | 5000 | 1500 | 0.30 | 2.1 ms | 20.0 ms | 3.50 |").Replace(compareOld),
			regressions: []string{
				"join · JoinCommunity against its floor · SQLite / accepted / 5000 · joins/s",
				"join · JoinCommunity against its floor · SQLite / accepted / 5000 · × floor",
				"join · JoinCommunity against its floor · SQLite / accepted / 5000 · p99",
			},
			compared: 12,
		},
		{
			name:     "faster is no regression, and units are compared as values (19.8 s → 15000 ms)",
			new:      strings.Replace(compareOld, "| 100000 | 19.8 s | 5039 | 120 MB |", "| 100000 | 15000 ms | 6666 | 0.1 GB |", 1),
			compared: 12,
		},
		{
			name:        "more memory is a regression",
			new:         strings.Replace(compareOld, "| 100000 | 19.8 s | 5039 | 120 MB |", "| 100000 | 19.8 s | 5039 | 200 MB |", 1),
			regressions: []string{"announce · Announcement · 100000 · peak RSS"},
			compared:    12,
		},
		{
			name:        "a target that stops being met is still the same row, and a regression",
			new:         strings.Replace(compareOld, "| kinship dev | start | 2.50 s | 3 s | yes | 1.00 |", "| kinship dev | start | 3.50 s | 3 s | **no** | 9.00 |", 1),
			regressions: []string{"stack · Start · kinship dev / start · value"},
			compared:    12,
		},
		{
			name:     "a run of another size is not compared",
			new:      strings.Replace(compareOld, "| 100000 | 19.8 s | 5039 | 120 MB |", "| 1000 | 90 s | 11 | 900 MB |", 1),
			compared: 9,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes := compareFigures(parseBenchFigures(compareOld), parseBenchFigures(tt.new), 0.10)
			if len(changes) != tt.compared {
				t.Errorf("compared %d figures, want %d: %+v", len(changes), tt.compared, changes)
			}
			var got []string
			for _, c := range changes {
				if c.regression {
					got = append(got, c.key)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.regressions, "\n") {
				t.Errorf("regressions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.regressions, "\n"))
			}
		})
	}
}

func TestCompareBenchCommand(t *testing.T) {
	dir := t.TempDir()
	oldPath, newPath := filepath.Join(dir, "old.md"), filepath.Join(dir, "new.md")
	slower := strings.Replace(compareOld, "| 100000 | 19.8 s | 5039 | 120 MB |", "| 100000 | 39.6 s | 2519 | 120 MB |", 1)
	for path, doc := range map[string]string{oldPath: compareOld, newPath: slower} {
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	err := compareBench([]string{newPath, newPath}, &out)
	if err != nil {
		t.Fatalf("a file against itself: %v\n%s", err, out.String())
	}
	out.Reset()
	err = compareBench([]string{oldPath, newPath}, &out)
	if err == nil || !strings.Contains(err.Error(), "2 regressions") {
		t.Fatalf("err = %v, want 2 regressions\n%s", err, out.String())
	}
	for _, want := range []string{"last delivered after | 19.8 s | 39.6 s | +100.0 %", "e-mails/s | 5039 | 2519 | -50.0 %"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
