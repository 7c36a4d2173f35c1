package members_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/webhooksig"
	"github.com/kinshiphq/kinship/services/members"
	"github.com/kinshiphq/kinship/services/members/ingest"
)

// clock is a settable clock for the service under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// memberToken is a member's own token, naming their member record.
func (s *service) memberToken(t *testing.T, community, memberID string) string {
	t.Helper()
	return s.issuer.Token(t, localissuer.Claims{Subject: "u-" + memberID, Community: community, Roles: []string{string(auth.Member)}, MemberID: memberID})
}

func recorded(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("ingest", "testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// delivery is what a sender posts to a webhook.
type delivery struct {
	path    string
	headers map[string]string
	body    []byte
}

type answer struct {
	status int
	body   map[string]any
}

func (s *service) deliver(t *testing.T, d delivery) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+d.path, bytes.NewReader(d.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := answer{status: res.StatusCode, body: map[string]any{}}
	_ = json.NewDecoder(res.Body).Decode(&out.body)
	return out
}

func github(secret, id, event string, body []byte) delivery {
	return delivery{path: "/ingest/demo/code", body: body, headers: map[string]string{
		"X-Hub-Signature-256": ingest.SignHex(secret, body), "X-GitHub-Delivery": id, "X-GitHub-Event": event}}
}

func discourse(secret, id string, body []byte) delivery {
	return delivery{path: "/ingest/demo/forum", body: body, headers: map[string]string{
		"X-Discourse-Event-Signature": ingest.SignHex(secret, body), "X-Discourse-Event-Id": id, "X-Discourse-Event": "post_created",
		"X-Discourse-Event-Type": "post", "X-Discourse-Instance": "https://forum.example.org"}}
}

func generic(t *testing.T, secret, id string, at time.Time, body []byte) delivery {
	t.Helper()
	h := http.Header{}
	if err := webhooksig.SetHeaders(h, id, at, body, secret); err != nil {
		t.Fatal(err)
	}
	return delivery{path: "/ingest/demo/tools", body: body, headers: map[string]string{
		webhooksig.HeaderID: h.Get(webhooksig.HeaderID), webhooksig.HeaderTimestamp: h.Get(webhooksig.HeaderTimestamp),
		webhooksig.HeaderSignature: h.Get(webhooksig.HeaderSignature)}}
}

// Activity from a code host, a forum and any tool that posts the generic
// shape arrives through signed webhooks: recorded for the member it names
// (by a linked handle or a verified address) with the source's weight,
// counted once however often it is delivered, kept for later when it names
// nobody yet, ignored with a reason when it is not an activity — and
// refused (401, 413, 404) with nothing recorded when it is not signed by
// the source, too large, or sent to a source that does not exist.
func TestActivitySourcesWebhooks(t *testing.T) {
	c := &clock{t: time.Date(2019, 5, 16, 0, 0, 0, 0, time.UTC)} // just after GitHub's documented examples
	s := startWith(t, func(d *members.Deps) { d.Now = c.Now })
	ctx := context.Background()
	organiser := authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser))
	integrations := membersv1connect.NewIntegrationsServiceClient(http.DefaultClient, s.url, organiser)
	engagement := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, organiser)
	secrets := map[string]string{}
	for name, kind := range map[string]membersv1.ActivitySourceKind{"code": membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_GITHUB,
		"forum": membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_DISCOURSE, "tools": membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_GENERIC} {
		res, err := integrations.CreateActivitySource(ctx, connect.NewRequest(&membersv1.CreateActivitySourceRequest{Name: name, Kind: kind}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Msg.GetSource().GetWebhookPath() != "/ingest/demo/"+name || res.Msg.GetSecret() == "" {
			t.Fatalf("source %s = %v", name, res.Msg)
		}
		secrets[name] = res.Msg.GetSecret()
	}
	if _, err := integrations.CreateActivitySource(ctx, connect.NewRequest(&membersv1.CreateActivitySourceRequest{Name: "code",
		Kind: membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_GITHUB})); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Errorf("a second source named code = %v, want AlreadyExists", err)
	}
	// Each new source counts 1 per activity unless the organisers say otherwise.
	settings := membersv1connect.NewEngagementServiceClient(http.DefaultClient, s.url, organiser)
	got, err := settings.GetCommunitySettings(ctx, connect.NewRequest(&membersv1.GetCommunitySettingsRequest{}))
	if err != nil || len(got.Msg.GetSettings().GetSourceWeights()) != 3 {
		t.Fatalf("source weights = %v, %v", got, err)
	}

	ada := s.add(t, &membersv1.JoinCommunityRequest{Community: "demo", Email: "ada@example.org", DisplayName: "Ada Lovelace"})
	if _, err := integrations.LinkHandle(ctx, connect.NewRequest(&membersv1.LinkHandleRequest{MemberId: ada, Provider: "github", Handle: "codertocat"})); err != nil {
		t.Fatal(err)
	}
	activities := func() []*membersv1.Activity {
		t.Helper()
		res, err := engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{MemberId: ada}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetRecent()
	}
	comment := recorded(t, "github/issue_comment.created.json")

	t.Run("a signed GitHub comment counts for the member with the handle, once", func(t *testing.T) {
		a := s.deliver(t, github(secrets["code"], "72d3162e-0001", "issue_comment", comment))
		if a.status != http.StatusOK || a.body["outcome"] != "recorded" || a.body["recorded"] != float64(1) {
			t.Fatalf("delivery = %d %v", a.status, a.body)
		}
		acts := activities()
		if len(acts) != 1 || acts[0].GetType() != "commented" || acts[0].GetSource() != "code" ||
			acts[0].GetProperties()["url"] != "https://github.com/Codertocat/Hello-World/issues/1#issuecomment-492700400" ||
			acts[0].GetSourceEventId() != "code/issue_comment/492700400" {
			t.Errorf("ada's activities = %v", acts)
		}
		events := s.count(t, "outbox")
		// GitHub redelivers with the same delivery id: answered as before.
		if a := s.deliver(t, github(secrets["code"], "72d3162e-0001", "issue_comment", comment)); a.status != http.StatusOK || a.body["duplicate"] != true {
			t.Errorf("redelivery = %d %v", a.status, a.body)
		}
		// A replay under a new delivery id (the id is not signed) counts nothing.
		if a := s.deliver(t, github(secrets["code"], "72d3162e-0002", "issue_comment", comment)); a.status != http.StatusOK || a.body["recorded"] != float64(0) {
			t.Errorf("replay = %d %v", a.status, a.body)
		}
		if n := len(activities()); n != 1 {
			t.Errorf("ada has %d activities after redelivery and replay, want 1", n)
		}
		if after := s.count(t, "outbox"); after != events {
			t.Errorf("redelivery and replay published %d more events", after-events)
		}
	})

	t.Run("refused deliveries record nothing", func(t *testing.T) {
		before := [3]int{s.count(t, "activities"), s.count(t, "ingest_deliveries"), s.count(t, "pending_activities")}
		issue := recorded(t, "github/issues.opened.json")
		forged := github("not-the-secret", "72d3162e-0003", "issues", issue)
		unsigned := github(secrets["code"], "72d3162e-0004", "issues", issue)
		delete(unsigned.headers, "X-Hub-Signature-256")
		tampered := github(secrets["code"], "72d3162e-0005", "issues", issue)
		tampered.body = bytes.Replace(issue, []byte("Codertocat"), []byte("Mallory"), 1)
		huge := github(secrets["code"], "72d3162e-0006", "issues", append(bytes.Repeat([]byte(" "), ingest.MaxBody), issue...))
		stale := generic(t, secrets["tools"], "msg_stale", c.Now().Add(-10*time.Minute), recorded(t, "generic/activities.json"))
		for _, tt := range []struct {
			name string
			d    delivery
			want int
		}{
			{"a wrong signature", forged, http.StatusUnauthorized},
			{"no signature", unsigned, http.StatusUnauthorized},
			{"a changed body", tampered, http.StatusUnauthorized},
			{"a body over 1 MiB", huge, http.StatusRequestEntityTooLarge},
			{"a generic delivery signed ten minutes ago (a replay)", stale, http.StatusUnauthorized},
			{"another community's path", delivery{path: "/ingest/other/code", headers: forged.headers, body: issue}, http.StatusNotFound},
			{"a source that does not exist", delivery{path: "/ingest/demo/nothing", headers: forged.headers, body: issue}, http.StatusNotFound},
			{"a community this instance does not serve", delivery{path: "/ingest/elsewhere/code", headers: forged.headers, body: issue}, http.StatusNotFound},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if a := s.deliver(t, tt.d); a.status != tt.want {
					t.Errorf("= %d %v, want %d", a.status, a.body, tt.want)
				}
			})
		}
		after := [3]int{s.count(t, "activities"), s.count(t, "ingest_deliveries"), s.count(t, "pending_activities")}
		if after != before {
			t.Errorf("activities, deliveries, unmatched went from %v to %v", before, after)
		}
	})

	t.Run("what is no activity is kept with its reason, not retried", func(t *testing.T) {
		for _, d := range []delivery{
			github(secrets["code"], "72d3162e-0010", "star", recorded(t, "github/star.created.json")),
			github(secrets["code"], "72d3162e-0011", "issues", recorded(t, "github/issues.edited.json")),
			github(secrets["code"], "72d3162e-0012", "issues", []byte(`{"action": "opened", "issue": "not an object"}`)),
		} {
			if a := s.deliver(t, d); a.status != http.StatusOK || a.body["outcome"] != "ignored" || a.body["reason"] == "" {
				t.Errorf("%s = %d %v", d.headers["X-GitHub-Delivery"], a.status, a.body)
			}
		}
		list, err := integrations.ListDeliveries(ctx, connect.NewRequest(&membersv1.ListDeliveriesRequest{Source: "code", PageSize: 3}))
		if err != nil || len(list.Msg.GetDeliveries()) != 3 || list.Msg.GetNextPageToken() == "" {
			t.Fatalf("deliveries = %v, %v", list, err)
		}
		if d := list.Msg.GetDeliveries()[2]; d.GetOutcome() != membersv1.DeliveryOutcome_DELIVERY_OUTCOME_IGNORED ||
			!strings.Contains(d.GetReason(), `github event "star" (created) is not an activity`) || d.GetEvent() != "star" {
			t.Errorf("the star delivery in the log = %v", d)
		}
	})

	t.Run("a forum post of nobody yet is kept until the member links the handle", func(t *testing.T) {
		c.Set(time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC))
		a := s.deliver(t, discourse(secrets["forum"], "158765", recorded(t, "discourse/post_created.json")))
		if a.status != http.StatusOK || a.body["outcome"] != "unmatched" || a.body["unmatched"] != float64(1) {
			t.Fatalf("delivery = %d %v", a.status, a.body)
		}
		kept, err := integrations.ListUnmatchedActivities(ctx, connect.NewRequest(&membersv1.ListUnmatchedActivitiesRequest{Source: "forum"}))
		if err != nil || len(kept.Msg.GetActivities()) != 1 || kept.Msg.GetActivities()[0].GetHandle() != "ada_example" ||
			kept.Msg.GetActivities()[0].GetProvider() != "forum" {
			t.Fatalf("unmatched = %v, %v", kept, err)
		}
		// Ada links her forum name herself.
		self := membersv1connect.NewIntegrationsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.memberToken(t, "demo", ada)))
		linked, err := self.LinkHandle(ctx, connect.NewRequest(&membersv1.LinkHandleRequest{MemberId: ada, Provider: "forum", Handle: "Ada_Example"}))
		if err != nil || linked.Msg.GetMatched() != 1 {
			t.Fatalf("link = %v, %v", linked, err)
		}
		if acts := activities(); !slices.ContainsFunc(acts, func(a *membersv1.Activity) bool { return a.GetType() == "posted" && a.GetSource() == "forum" }) {
			t.Errorf("ada's activities after linking = %v", acts)
		}
		if kept, _ := integrations.ListUnmatchedActivities(ctx, connect.NewRequest(&membersv1.ListUnmatchedActivitiesRequest{})); len(kept.Msg.GetActivities()) != 0 {
			t.Errorf("still unmatched: %v", kept.Msg.GetActivities())
		}
		// Nobody else may claim Ada's handle.
		grace := s.add(t, &membersv1.JoinCommunityRequest{Community: "demo", Email: "grace@example.org", DisplayName: "Grace Hopper"})
		if _, err := integrations.LinkHandle(ctx, connect.NewRequest(&membersv1.LinkHandleRequest{MemberId: grace, Provider: "forum", Handle: "ada_example"})); connect.CodeOf(err) != connect.CodeAlreadyExists {
			t.Errorf("grace linking ada's handle = %v, want AlreadyExists", err)
		}
		// Private messages and system posts are not members' activity.
		for i, f := range []string{"discourse/post_created.private_message.json", "discourse/post_created.small_action.json"} {
			if a := s.deliver(t, discourse(secrets["forum"], "15877"+string(rune('0'+i)), recorded(t, f))); a.body["outcome"] != "ignored" {
				t.Errorf("%s = %v", f, a.body)
			}
		}
	})

	t.Run("the generic shape matches verified addresses and handles, and rotation keeps the old secret for a while", func(t *testing.T) {
		body := recorded(t, "generic/activities.json")
		a := s.deliver(t, generic(t, secrets["tools"], "msg_1", c.Now(), body))
		if a.status != http.StatusOK || a.body["recorded"] != float64(1) || a.body["unmatched"] != float64(1) ||
			!strings.Contains(a.body["reason"].(string), "activities[2]: names nobody") {
			t.Fatalf("generic delivery = %d %v", a.status, a.body)
		}
		if acts := activities(); !slices.ContainsFunc(acts, func(a *membersv1.Activity) bool {
			return a.GetType() == "attended_meetup" && a.GetProperties()["venue_id"] == "hall-2"
		}) {
			t.Errorf("ada's activities = %v", acts)
		}
		rotated, err := integrations.RotateActivitySourceSecret(ctx, connect.NewRequest(&membersv1.RotateActivitySourceSecretRequest{Name: "tools", PreviousValidHours: 1}))
		if err != nil || rotated.Msg.GetSecret() == secrets["tools"] {
			t.Fatalf("rotate = %v, %v", rotated, err)
		}
		more := []byte(`{"activities":[{"id":"chat-2","type":"posted","occurred_at":"2026-03-02T19:00:00Z","email":"ada@example.org"}]}`)
		if a := s.deliver(t, generic(t, secrets["tools"], "msg_2", c.Now(), more)); a.status != http.StatusOK {
			t.Errorf("the previous secret within its hour = %d %v", a.status, a.body)
		}
		c.Set(c.Now().Add(2 * time.Hour))
		if a := s.deliver(t, generic(t, secrets["tools"], "msg_3", c.Now(), more)); a.status != http.StatusUnauthorized {
			t.Errorf("the previous secret after its hour = %d %v", a.status, a.body)
		}
		if a := s.deliver(t, generic(t, rotated.Msg.GetSecret(), "msg_4", c.Now(), more)); a.status != http.StatusOK || a.body["recorded"] != float64(0) {
			t.Errorf("the new secret = %d %v (the activity was recorded before)", a.status, a.body)
		}
	})

	t.Run("another community cannot reach demo's sources", func(t *testing.T) {
		other := membersv1connect.NewIntegrationsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "other", auth.Organiser)))
		if _, err := other.RotateActivitySourceSecret(ctx, connect.NewRequest(&membersv1.RotateActivitySourceSecretRequest{Name: "code"})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("rotate demo's source from other = %v", err)
		}
		if _, err := other.DeleteActivitySource(ctx, connect.NewRequest(&membersv1.DeleteActivitySourceRequest{Name: "code"})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("delete demo's source from other = %v", err)
		}
		for _, call := range []func() (int, error){
			func() (int, error) {
				r, err := other.ListActivitySources(ctx, connect.NewRequest(&membersv1.ListActivitySourcesRequest{}))
				return len(r.Msg.GetSources()), err
			},
			func() (int, error) {
				r, err := other.ListDeliveries(ctx, connect.NewRequest(&membersv1.ListDeliveriesRequest{}))
				return len(r.Msg.GetDeliveries()), err
			},
			func() (int, error) {
				r, err := other.ListUnmatchedActivities(ctx, connect.NewRequest(&membersv1.ListUnmatchedActivitiesRequest{}))
				return len(r.Msg.GetActivities()), err
			},
		} {
			if n, err := call(); err != nil || n != 0 {
				t.Errorf("other sees %d of demo's, %v", n, err)
			}
		}
		before := len(activities())
		res, err := other.RecordActivities(ctx, connect.NewRequest(&membersv1.RecordActivitiesRequest{Activities: []*membersv1.ActivityInput{
			{MemberId: ada, Type: "hosted_event", OccurredAt: timestamppb.New(c.Now()), SourceEventId: "attack-1"},
			{Email: "ada@example.org", Type: "hosted_event", OccurredAt: timestamppb.New(c.Now()), SourceEventId: "attack-2"},
		}}))
		if err != nil || res.Msg.GetRecorded() != 0 || res.Msg.GetResults()[0].GetOutcome() != membersv1.RowOutcome_ROW_OUTCOME_FAILED ||
			res.Msg.GetResults()[0].GetField() != "member_id" || res.Msg.GetResults()[1].GetOutcome() != membersv1.RowOutcome_ROW_OUTCOME_UNMATCHED {
			t.Errorf("other recording for demo's member = %v, %v", res, err)
		}
		if n := len(activities()); n != before {
			t.Errorf("demo's member gained %d activities", n-before)
		}
	})
}

// Deliveries arriving at once share commits; each still counts once, and
// a delivery sent twice at the same moment is recorded once.
func TestConcurrentDeliveriesCountOnce(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	integrations := membersv1connect.NewIntegrationsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	src, err := integrations.CreateActivitySource(ctx, connect.NewRequest(&membersv1.CreateActivitySourceRequest{Name: "tools",
		Kind: membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_GENERIC}))
	if err != nil {
		t.Fatal(err)
	}
	ada := s.add(t, validJoin())
	const n = 40
	var wg sync.WaitGroup
	answers := make([]answer, 2*n)
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := i % n // each delivery twice
			body := []byte(`{"activities":[{"id":"chat-` + string(rune('A'+k/26)) + string(rune('a'+k%26)) + `","type":"posted","occurred_at":"` +
				time.Now().UTC().Add(-time.Minute).Format(time.RFC3339) + `","member_id":"` + ada + `"}]}`)
			answers[i] = s.deliver(t, generic(t, src.Msg.GetSecret(), "msg_"+string(rune('A'+k/26))+string(rune('a'+k%26)), time.Now(), body))
		}()
	}
	wg.Wait()
	recorded := 0
	for _, a := range answers {
		if a.status != http.StatusOK {
			t.Fatalf("a delivery = %d %v", a.status, a.body)
		}
		if a.body["duplicate"] != true {
			recorded += int(a.body["recorded"].(float64))
		}
	}
	if recorded != n || s.count(t, "activities") != n || s.count(t, "ingest_deliveries") != n {
		t.Errorf("recorded %d, %d activities and %d deliveries stored; want %d each", recorded, s.count(t, "activities"), s.count(t, "ingest_deliveries"), n)
	}
}
