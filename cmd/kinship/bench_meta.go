//go:build !nodev

package main

import (
	"fmt"
	"os"
	"strings"
)

// benchLoad is the one-minute load average when it is read, from
// /proc/loadavg: the machine is shared, and a figure taken under load
// says so beside it.
func benchLoad() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if fields := strings.Fields(string(raw)); len(fields) > 0 {
		return fields[0]
	}
	return "?"
}

// ratio formats figure over ceiling with two decimals; "–" without a
// ceiling.
func ratio(figure, ceiling float64) string {
	if ceiling <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", figure/ceiling)
}
