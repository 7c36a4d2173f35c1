package ingest

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/services/members/domain"
)

// fuzzParse feeds any event name and body to a parser: it never panics,
// and whatever it takes is an activity the ledger can hold — a key, a
// type, a time within bounds, someone it is about — or a reason it took
// nothing.
func fuzzParse(f *testing.F, kind domain.ActivitySourceKind, dir string, events ...string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	for _, file := range files {
		for _, e := range events {
			f.Add(e, sample(f, filepath.Join(dir, filepath.Base(file))))
		}
	}
	f.Add("", []byte(`{"activities":[{"id":"x","type":"posted","occurred_at":"2026-03-01T00:00:00Z","handle":"\u0000"}]}`))
	f.Add("issues", []byte(`{"action":"opened","issue":{"id":1,"user":{"login":"a"},"created_at":"2026-03-01T00:00:00Z"}}`))
	f.Add("post_created", []byte(`{"post":{"id":1,"username":"a","user_id":1,"post_type":1,"created_at":"2026-03-01T00:00:00Z"}}`))
	now := at("2026-03-03T00:00:00Z")
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		got := Parse(kind, event, body, now)
		if len(got.Activities) == 0 && got.Ignored == "" {
			t.Fatalf("no activity and no reason for %q", body)
		}
		for _, a := range got.Activities {
			if a.Key == "" || a.Type == "" || a.OccurredAt.IsZero() || a.Who.IsZero() && a.Who.Handle == "" {
				t.Fatalf("incomplete activity %+v", a)
			}
			if a.OccurredAt.After(now.Add(25 * time.Hour)) {
				t.Fatalf("activity in the future %+v", a)
			}
			if _, ferr := domain.ValidateProperties("properties", a.Properties); ferr != nil {
				t.Fatalf("properties the ledger refuses: %v", ferr)
			}
		}
	})
}

func FuzzParseGitHub(f *testing.F) {
	fuzzParse(f, domain.SourceGitHub, "github", "issues", "issue_comment", "pull_request", "pull_request_review", "pull_request_review_comment", "star", "ping")
}

func FuzzParseDiscourse(f *testing.F) {
	fuzzParse(f, domain.SourceDiscourse, "discourse", "post_created", "post_edited")
}

func FuzzParseGeneric(f *testing.F) {
	fuzzParse(f, domain.SourceGeneric, "generic", "activities")
}

// FuzzVerify: any signature header is refused or accepted for the body
// it signs, never a panic; a forged one is never accepted.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"post":{"id":1}}`)
	f.Add("sha256="+SignHex("secret-0123456789", body)[7:], "1", body)
	f.Add("sha256=", "", []byte(nil))
	f.Add("sha1=abc", "x\x00", []byte("{}"))
	f.Fuzz(func(t *testing.T, sig, id string, b []byte) {
		for _, kind := range []domain.ActivitySourceKind{domain.SourceGitHub, domain.SourceDiscourse, domain.SourceGeneric} {
			h := http.Header{}
			h.Set("X-Hub-Signature-256", sig)
			h.Set("X-Discourse-Event-Signature", sig)
			h.Set("webhook-signature", sig)
			h.Set("webhook-id", id)
			h.Set("webhook-timestamp", "1772496000")
			h.Set("X-GitHub-Delivery", id)
			h.Set("X-Discourse-Event-Id", id)
			d, err := Verify(kind, h, b, []string{"secret-0123456789"}, at("2026-03-03T00:00:00Z"))
			if err == nil && kind != domain.SourceGeneric && strings.ToLower(strings.TrimSpace(sig)) != SignHex("secret-0123456789", b) {
				t.Fatalf("accepted a forged signature %q", sig)
			}
			if err == nil && d.ID == "" {
				t.Fatal("accepted without a delivery id")
			}
		}
	})
}
