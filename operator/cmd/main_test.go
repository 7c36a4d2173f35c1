package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestFlagsHaveWorkingDefaults(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.retryBase != time.Second || cfg.retryMax != 5*time.Minute || cfg.maxConcurrent != 4 || cfg.probeAddr != ":8081" || cfg.leaderElect {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestInvalidFlagsAreAllReported(t *testing.T) {
	_, err := parseFlags([]string{"-max-concurrent-reconciles=0", "-retry-base-delay=10m", "-retry-max-delay=1m", "-external-timeout=0s", "-log-format=xml"}, io.Discard)
	if err == nil {
		t.Fatal("invalid flags accepted")
	}
	for _, want := range []string{"-max-concurrent-reconciles", "-retry-base-delay", "-external-timeout", "-log-format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestLoggerHonoursLevelAndFormat(t *testing.T) {
	var b strings.Builder
	l := newLogger(&b, "warn", "json")
	l.Info("hidden")
	l.Warn("shown", "community_id", "c1")
	if out := b.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) || !strings.Contains(out, `"community_id":"c1"`) {
		t.Errorf("log output: %s", out)
	}
}
