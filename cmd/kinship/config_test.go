package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFlagsTakeEnvironmentDefaultsAndFlagsWin(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "/var/lib/kinship/m.db", "KAFKA_BROKERS": "a:9092, b:9092", "KINSHIP_ONBOARDING_REMINDER_AFTER": "2h"}
	f := newFlags("test", func(k string) string { return env[k] })
	var dbURL, addr string
	var brokers []string
	var reminder time.Duration
	f.string(&dbURL, "database-url", "DATABASE_URL", "", "")
	f.string(&addr, "http-addr", "KINSHIP_HTTP_ADDR", ":8081", "")
	f.list(&brokers, "kafka-brokers", "KAFKA_BROKERS", "", "")
	if err := f.duration(&reminder, "reminder", "KINSHIP_ONBOARDING_REMINDER_AFTER", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.parse([]string{"-http-addr", ":9000"}); err != nil {
		t.Fatal(err)
	}
	if dbURL != "/var/lib/kinship/m.db" || addr != ":9000" || !slices.Equal(brokers, []string{"a:9092", "b:9092"}) || reminder != 2*time.Hour {
		t.Errorf("got db %q addr %q brokers %v reminder %v", dbURL, addr, brokers, reminder)
	}
}

func TestBadSettingsAreReportedNotIgnored(t *testing.T) {
	f := newFlags("test", func(k string) string { return map[string]string{"KINSHIP_ONBOARDING_REMINDER_AFTER": "two days"}[k] })
	var d time.Duration
	if err := f.duration(&d, "reminder", "KINSHIP_ONBOARDING_REMINDER_AFTER", 0, ""); err == nil || !strings.Contains(err.Error(), "KINSHIP_ONBOARDING_REMINDER_AFTER") {
		t.Errorf("error = %v, want one naming the variable", err)
	}
	g := newFlags("test", func(string) string { return "" })
	if err := g.parse([]string{"stray"}); err == nil {
		t.Error("stray argument accepted")
	}
}

func TestReplaceSectionKeepsTheRestOfTheDocument(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	doc := "# Benchmarks\n\nintro\n\n<!-- bench:join:start -->\nold\n<!-- bench:join:end -->\n\nfooter\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceSection(path, "join", "new\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Benchmarks\n\nintro\n\n<!-- bench:join:start -->\nnew\n<!-- bench:join:end -->\n\nfooter\n"
	if string(got) != want {
		t.Errorf("document = %q, want %q", got, want)
	}
	if err := replaceSection(path, "other", "x\n"); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	if !strings.HasSuffix(string(got), "<!-- bench:other:start -->\nx\n<!-- bench:other:end -->\n") || !strings.Contains(string(got), "new\n") {
		t.Errorf("appended section wrong: %q", got)
	}
}

func TestHelpNeverPrintsASecretFromTheEnvironment(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.secret-payload.signature"
	env := map[string]string{"KINSHIP_TOKEN": token}
	var out strings.Builder
	f := newFlags("members import", func(k string) string { return env[k] })
	f.fs.SetOutput(&out)
	var o organiserFlags
	o.define(f)
	_ = f.fs.Parse([]string{"-h"})
	if strings.Contains(out.String(), "secret-payload") {
		t.Fatalf("-h printed the token:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "KINSHIP_TOKEN") {
		t.Errorf("-h does not say where the token comes from:\n%s", out.String())
	}
	if o.token != token {
		t.Errorf("the token from the environment was not taken: %q", o.token)
	}
	f = newFlags("members import", func(k string) string { return env[k] })
	o = organiserFlags{}
	o.define(f)
	if err := f.parse([]string{"-token", "from-flag"}); err != nil || o.token != "from-flag" {
		t.Errorf("the flag did not win over the environment: %q, %v", o.token, err)
	}
}

func TestToolFailuresAreSentencesAndComponentFailuresAreLogRecords(t *testing.T) {
	for args, want := range map[string]bool{"members import x.csv": true, "members export": true, "journeys list": true, "audit": true,
		"members": false, "worker": false, "dev": false, "communications": false} {
		if got := isTool(strings.Fields(args)); got != want {
			t.Errorf("isTool(%q) = %v", args, got)
		}
	}
}
