package ingest

import (
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/webhooksig"
	"github.com/kinshiphq/kinship/services/members/domain"
)

func sample(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Each recorded GitHub delivery becomes the activity it proves — with who
// did it, when, a key that makes it count once, and public links only —
// or is ignored with a reason a person can act on.
func TestGitHubDeliveries(t *testing.T) {
	tests := []struct {
		file, event string
		want        *Activity
		ignored     string
	}{
		{"issues.opened.json", "issues", &Activity{Key: "issue/444500041", Type: TypeOpenedIssue, OccurredAt: at("2019-05-15T15:20:18Z"),
			Who: domain.Identity{Handle: "Codertocat"}, Properties: map[string]string{"url": "https://github.com/Codertocat/Hello-World/issues/1",
				"repository": "Codertocat/Hello-World", "number": "1"}}, ""},
		{"issue_comment.created.json", "issue_comment", &Activity{Key: "issue_comment/492700400", Type: TypeCommented, OccurredAt: at("2019-05-15T15:20:21Z"),
			Who: domain.Identity{Handle: "Codertocat"}, Properties: map[string]string{"url": "https://github.com/Codertocat/Hello-World/issues/1#issuecomment-492700400",
				"repository": "Codertocat/Hello-World"}}, ""},
		{"pull_request.opened.json", "pull_request", &Activity{Type: TypeOpenedPullRequest, Who: domain.Identity{Handle: "Codertocat"}}, ""},
		{"pull_request_review.submitted.json", "pull_request_review", &Activity{Type: TypeReviewed, Who: domain.Identity{Handle: "Codertocat"}}, ""},
		{"pull_request_review_comment.created.json", "pull_request_review_comment", &Activity{Type: TypeCommented, Who: domain.Identity{Handle: "Codertocat"}}, ""},
		{"issues.edited.json", "issues", nil, `github event "issues" (edited) is not an activity`},
		{"star.created.json", "star", nil, `github event "star" (created) is not an activity`},
		{"ping.json", "ping", nil, "ping: GitHub's test delivery holds no activity"},
		{"issues.opened.json", "", nil, "does not name its GitHub event"},
	}
	for _, tt := range tests {
		t.Run(tt.event+"/"+tt.file, func(t *testing.T) {
			body := sample(t, "github/"+tt.file)
			got := Parse(domain.SourceGitHub, tt.event, body, recorded)
			check(t, got, tt.want, tt.ignored)
		})
	}
}

func TestDiscourseDeliveries(t *testing.T) {
	now := at("2026-03-03T00:00:00Z")
	tests := []struct {
		file, event string
		want        *Activity
		ignored     string
	}{
		{"post_created.json", "post_created", &Activity{Key: "post/79563", Type: TypePosted, OccurredAt: at("2026-03-02T10:19:46.324Z"),
			Who: domain.Identity{Handle: "ada_example"}, Properties: map[string]string{"topic_id": "46582", "post_number": "3", "category_id": "7"}}, ""},
		{"post_created.private_message.json", "post_created", nil, "private message"},
		{"post_created.small_action.json", "post_created", nil, "the system's"},
		{"post_created.json", "post_edited", nil, `discourse event "post_edited" is not an activity`},
		{"post_created.json", "", nil, "does not name its Discourse event"},
	}
	for _, tt := range tests {
		t.Run(tt.event+"/"+tt.file, func(t *testing.T) {
			check(t, Parse(domain.SourceDiscourse, tt.event, sample(t, "discourse/"+tt.file), now), tt.want, tt.ignored)
		})
	}
	// Neither GitHub nor Discourse signs when it sent a delivery: an object
	// older than the replay window does not count.
	got := Parse(domain.SourceDiscourse, "post_created", sample(t, "discourse/post_created.json"), now.Add(8*24*time.Hour))
	check(t, got, nil, "older than the replay window")
}

func TestGenericDeliveries(t *testing.T) {
	now := at("2026-03-03T00:00:00Z")
	got := Parse(domain.SourceGeneric, "activities", sample(t, "generic/activities.json"), now)
	if got.Ignored != "" || len(got.Activities) != 2 || len(got.Skipped) != 1 || !strings.Contains(got.Skipped[0], "activities[2]: names nobody") {
		t.Fatalf("generic sample = %+v", got)
	}
	a := got.Activities[0]
	if a.Key != "activity/meetup-4711-rsvp-ada" || a.Type != "attended_meetup" || a.Who.Email != "ada@example.org" || a.Properties["venue_id"] != "hall-2" {
		t.Errorf("first activity = %+v", a)
	}
	if b := got.Activities[1]; b.Who.Handle != "grace.h" || b.Key != "activity/chat-msg-99812" {
		t.Errorf("second activity = %+v", b)
	}
	for body, reason := range map[string]string{
		`not json`:                      "invalid JSON",
		`{}`:                            `holds no "activities"`,
		`{"activities": "many"}`:        "wrong type",
		`{"activities": [{"id": "x"}]}`: "type must be",
		`{"activities": [{"id": "x", "type": "posted", "occurred_at": "2030-01-01T00:00:00Z", "handle": "a"}]}`:                                 "future",
		`{"activities": [{"id": "x", "type": "posted", "occurred_at": "2026-03-01T00:00:00Z", "email": "nope"}]}`:                               "email",
		`{"activities": [{"id": "x", "type": "posted", "occurred_at": "2026-03-01T00:00:00Z", "handle": "a", "properties": {"Bad Key": "v"}}]}`: "key",
	} {
		if got := Parse(domain.SourceGeneric, "activities", []byte(body), now); len(got.Activities) != 0 || !strings.Contains(got.Ignored, reason) {
			t.Errorf("%s = %+v, want ignored for %q", body, got, reason)
		}
	}
}

func check(t *testing.T, got Parsed, want *Activity, ignored string) {
	t.Helper()
	if want == nil {
		if len(got.Activities) != 0 || !strings.Contains(got.Ignored, ignored) {
			t.Errorf("= %+v, want ignored for %q", got, ignored)
		}
		return
	}
	if got.Ignored != "" || len(got.Activities) != 1 {
		t.Fatalf("= %+v, want one activity", got)
	}
	a := got.Activities[0]
	if a.Type != want.Type || a.Who != want.Who || (want.Key != "" && a.Key != want.Key) ||
		(!want.OccurredAt.IsZero() && !a.OccurredAt.Equal(want.OccurredAt)) || (want.Properties != nil && !maps.Equal(a.Properties, want.Properties)) {
		t.Errorf("activity = %+v, want %+v", a, *want)
	}
	if a.Key == "" || a.OccurredAt.IsZero() {
		t.Errorf("activity without key or time: %+v", a)
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// recorded is a moment just after GitHub's documented examples were
// made (15 May 2019), so the replay window admits them.
var recorded = at("2019-05-16T00:00:00Z")

// A delivery is taken only with a signature under one of the source's
// secrets, compared in constant time; GitHub and Discourse sign the body,
// generic senders the id, time and body.
func TestVerify(t *testing.T) {
	now := at("2026-03-03T00:00:00Z")
	body := sample(t, "discourse/post_created.json")
	const current, previous = "current-secret-0123456789", "previous-secret-0123456789"
	signed := func(kind domain.ActivitySourceKind, secret string, b []byte) http.Header {
		h := http.Header{}
		switch kind {
		case domain.SourceGitHub:
			h.Set("X-Hub-Signature-256", SignHex(secret, b))
			h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
			h.Set("X-GitHub-Event", "issues")
		case domain.SourceDiscourse:
			h.Set("X-Discourse-Event-Signature", SignHex(secret, b))
			h.Set("X-Discourse-Event-Id", "158765")
			h.Set("X-Discourse-Event", "post_created")
		}
		return h
	}
	genericSecret, _ := webhooksig.NewSecret()
	genericOld, _ := webhooksig.NewSecret()
	genericSigned := func(secret string, sentAt time.Time, b []byte) http.Header {
		h := http.Header{}
		if err := webhooksig.SetHeaders(h, "msg_1", sentAt, b, secret); err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		name    string
		kind    domain.ActivitySourceKind
		header  http.Header
		body    []byte
		secrets []string
		want    error
		id      string
	}{
		{"github", domain.SourceGitHub, signed(domain.SourceGitHub, current, body), body, []string{current}, nil, "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{"github with the previous secret", domain.SourceGitHub, signed(domain.SourceGitHub, previous, body), body, []string{current, previous}, nil, "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{"github with a retired secret", domain.SourceGitHub, signed(domain.SourceGitHub, previous, body), body, []string{current}, ErrBadSignature, ""},
		{"github body changed", domain.SourceGitHub, signed(domain.SourceGitHub, current, body), append([]byte(" "), body...), []string{current}, ErrBadSignature, ""},
		{"github unsigned", domain.SourceGitHub, http.Header{}, body, []string{current}, ErrNoSignature, ""},
		{"github not hex", domain.SourceGitHub, http.Header{"X-Hub-Signature-256": {"sha256=zz"}}, body, []string{current}, ErrBadSignature, ""},
		{"github sha1 only", domain.SourceGitHub, http.Header{"X-Hub-Signature": {"sha1=00"}}, body, []string{current}, ErrNoSignature, ""},
		{"github without delivery id", domain.SourceGitHub, func() http.Header {
			h := signed(domain.SourceGitHub, current, body)
			h.Del("X-GitHub-Delivery")
			return h
		}(), body, []string{current}, ErrNoDeliveryID, ""},
		{"discourse", domain.SourceDiscourse, signed(domain.SourceDiscourse, current, body), body, []string{current}, nil, "158765"},
		{"discourse signed as github", domain.SourceDiscourse, signed(domain.SourceGitHub, current, body), body, []string{current}, ErrNoSignature, ""},
		{"generic", domain.SourceGeneric, genericSigned(genericSecret, now, body), body, []string{genericSecret}, nil, "msg_1"},
		{"generic during a rotation", domain.SourceGeneric, genericSigned(genericOld, now, body), body, []string{genericSecret, genericOld}, nil, "msg_1"},
		{"generic replayed later", domain.SourceGeneric, genericSigned(genericSecret, now.Add(-10*time.Minute), body), body, []string{genericSecret}, ErrBadSignature, ""},
		{"generic unsigned", domain.SourceGeneric, http.Header{}, body, []string{genericSecret}, ErrNoSignature, ""},
		{"no secret at all", domain.SourceGitHub, signed(domain.SourceGitHub, "", body), body, []string{""}, ErrBadSignature, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Verify(tt.kind, tt.header, tt.body, tt.secrets, now)
			if !errors.Is(err, tt.want) || d.ID != tt.id {
				t.Errorf("Verify = %+v, %v; want %q, %v", d, err, tt.id, tt.want)
			}
		})
	}
}
