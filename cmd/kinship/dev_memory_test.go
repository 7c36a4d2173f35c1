//go:build !nodev

package main

import "testing"

func TestParseMemoryLimit(t *testing.T) {
	good := map[string]int64{"240MiB": 240 << 20, "1GiB": 1 << 30, "512KiB": 512 << 10, "1000": 1000, "64B": 64, "off": -1}
	for in, want := range good {
		if got, err := parseMemoryLimit(in); err != nil || got != want {
			t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5MiB", "240MB", "lots", "99999999999GiB"} {
		if _, err := parseMemoryLimit(in); err == nil {
			t.Errorf("parseMemoryLimit(%q) accepted", in)
		}
	}
}
