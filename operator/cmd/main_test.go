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
	if cfg.retryBase != time.Second || cfg.retryMax != 5*time.Minute || cfg.maxConcurrent != 4 || cfg.probeAddr != ":8081" || cfg.leaderElect ||
		cfg.goalsResync != 5*time.Minute {
		t.Errorf("defaults: %+v", cfg)
	}
	// What the generated RBAC and the chart's defaults name.
	if cfg.namespace != "kinship-system" || cfg.serviceAccount != "kinship-operator" || cfg.instanceRole != "kinship-operator-instance" {
		t.Errorf("identity defaults: %q %q %q", cfg.namespace, cfg.serviceAccount, cfg.instanceRole)
	}
}

// The API server's address, which the NetworkPolicy pins the in-cluster
// workload issuer to, comes from the rest config's host.
func TestTheAPIServerAddressIsTheConfigsHost(t *testing.T) {
	for host, want := range map[string]string{
		"https://10.96.0.1:443":   "10.96.0.1:443",
		"https://10.96.0.1":       "10.96.0.1:443",
		"https://[fd00::1]:6443":  "[fd00::1]:6443",
		"http://127.0.0.1:8080":   "127.0.0.1:8080",
		"https://api.example.org": "api.example.org:443",
		"":                        "",
	} {
		if got := apiServerAddress(host); got != want {
			t.Errorf("apiServerAddress(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestInvalidFlagsAreAllReported(t *testing.T) {
	_, err := parseFlags([]string{"-max-concurrent-reconciles=0", "-retry-base-delay=10m", "-retry-max-delay=1m", "-external-timeout=0s", "-log-format=xml",
		"-namespace=Kinship_System", "-service-account=", "-instance-role=a/b", "-goals-resync-period=1s"}, io.Discard)
	if err == nil {
		t.Fatal("invalid flags accepted")
	}
	for _, want := range []string{"-max-concurrent-reconciles", "-retry-base-delay", "-external-timeout", "-log-format", "-namespace", "-service-account", "-instance-role", "-goals-resync-period"} {
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
