//go:build !nodev

package main

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
)

// devMemoryLimit is the soft limit on the Go runtime's memory that
// `kinship dev` sets: every component, Temporal and the broker share one
// heap, which the collector would otherwise let grow to twice what is
// live. With 240 MiB the whole stack stays under 400 MB resident under a
// burst of joins (docs/benchmarks.md); the binary's own pages come on top.
const devMemoryLimit = "240MiB"

// parseMemoryLimit reads a size as GOMEMLIMIT writes it — a number of
// bytes, or with a B, KiB, MiB or GiB suffix — or "off" for none (-1).
func parseMemoryLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return -1, nil
	}
	unit := int64(1)
	for _, u := range []struct {
		suffix string
		bytes  int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = rest, u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/unit {
		return 0, fmt.Errorf("memory limit %q: want a positive size such as 240MiB or 1GiB, or off", s)
	}
	return n * unit, nil
}

// applyMemoryLimit sets the runtime's soft memory limit from the flag,
// unless GOMEMLIMIT already set one, which wins.
func applyMemoryLimit(flagValue, gomemlimit string) error {
	if gomemlimit != "" {
		return nil
	}
	n, err := parseMemoryLimit(flagValue)
	if err != nil {
		return fmt.Errorf("configuration: -memory-limit: %w", err)
	}
	if n < 0 {
		return nil
	}
	debug.SetMemoryLimit(n)
	return nil
}
