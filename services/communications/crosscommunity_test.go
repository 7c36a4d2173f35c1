package communications_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// Two communities on one instance: demo (A, the attacker's) and other
// (B, the victim's).
type twoCommunities struct {
	*fixture
	// a and b are each community's organiser token.
	a, b string
	// victim is B's member; secrets are what A must never see of them.
	victim  domain.Recipient
	secrets []string
	// B's data, by id.
	bMessage, bAnnouncement, bWebhook string
}

func startTwoCommunities(t *testing.T) *twoCommunities {
	t.Helper()
	mine := member("a1", "alice@demo.example")
	victim := domain.Recipient{MemberID: "b1", Community: "other", Email: "bea@other.example", DisplayName: "Bea Secret", Status: "active",
		JoinedAt: time.Now().Add(-time.Hour), EmailVerified: true, Consents: []string{domain.PurposeAnnouncements, domain.PurposeDigest}}
	f := start(t, options{communities: []string{"demo", "other"}, recipients: []domain.Recipient{mine, victim}})
	tc := &twoCommunities{fixture: f, a: f.issuer.For(t, "demo", "organiser"), b: f.issuer.For(t, "other", "organiser"), victim: victim,
		secrets: []string{victim.Email, victim.DisplayName}}

	// B's organiser uses B's community as anyone would.
	ctx := context.Background()
	bTemplates := communicationsv1connect.NewTemplatesServiceClient(http.DefaultClient, f.url, authtest.Bearer(tc.b))
	bMessages := communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, f.url, authtest.Bearer(tc.b))
	bAnnouncements := communicationsv1connect.NewAnnouncementsServiceClient(http.DefaultClient, f.url, authtest.Bearer(tc.b))
	if _, err := bTemplates.SaveTemplate(ctx, connect.NewRequest(&communicationsv1.SaveTemplateRequest{Community: "other", Name: "b-only",
		Variants: []*communicationsv1.TemplateVariant{{Subject: "B news", TextBody: "Hello {{.Member.DisplayName}}"}}})); err != nil {
		t.Fatal(err)
	}
	sent, err := bMessages.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{Community: "other", IdempotencyKey: "b/1",
		MemberId: victim.MemberID, Subject: "For Bea", TextBody: "Private note"}))
	if err != nil || sent.Msg.GetMessage().GetStatus() != communicationsv1.MessageStatus_MESSAGE_STATUS_SENT {
		t.Fatalf("B's own message: %v, %v", sent, err)
	}
	tc.bMessage = sent.Msg.GetMessage().GetId()
	later := time.Now().Add(24 * time.Hour)
	ann, err := bAnnouncements.CreateAnnouncement(ctx, connect.NewRequest(&communicationsv1.CreateAnnouncementRequest{Community: "other", Template: "b-only",
		IdempotencyKey: "b-news", SendAt: timestamppb.New(later)}))
	if err != nil {
		t.Fatal(err)
	}
	tc.bAnnouncement = ann.Msg.GetAnnouncement().GetId()
	hook, err := bAnnouncements.CreateWebhook(ctx, connect.NewRequest(&communicationsv1.CreateWebhookRequest{Community: "other",
		Url: "http://127.0.0.1:1/b-hook", Format: communicationsv1.WebhookFormat_WEBHOOK_FORMAT_GENERIC}))
	if err != nil {
		t.Fatal(err)
	}
	tc.bWebhook = hook.Msg.GetWebhook().GetId()
	return tc
}

// raw posts body as Connect JSON and returns the outcome ("ok" or the
// error code) and the whole response text.
func raw(t *testing.T, url, token string, body any) (string, string) {
	t.Helper()
	payload, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		return "ok", string(out)
	}
	var e struct{ Code string }
	_ = json.Unmarshal(out, &e)
	return e.Code, string(out)
}

func (tc *twoCommunities) leaks(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range tc.secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s holds B's member's %q: %s", where, s, text)
		}
	}
}

// Finding 1 of issue 14, from the attacker's side: A's organiser saves a
// template printing the member's address and name and aims it, and every
// other call, at B's member. Everything is refused, no answer holds B's
// data, and nothing reaches B's member.
func TestAnOrganiserCannotReachAnotherCommunitysMember(t *testing.T) {
	tc := startTwoCommunities(t)
	leak := map[string]any{"community": "demo", "name": "leak", "variants": []any{map[string]any{
		"subject": "{{.Member.Email}} | {{.Member.DisplayName}}", "textBody": "{{.Member.Email}} | {{.Member.DisplayName}}",
		"htmlBody": "<p>{{.Member.Email}} | {{.Member.DisplayName}}</p>"}}}
	if code, body := raw(t, tc.url+communicationsv1connect.TemplatesServiceSaveTemplateProcedure, tc.a, leak); code != "ok" {
		t.Fatalf("A saves its template: %s %s", code, body)
	}
	for name, tt := range map[string]struct {
		procedure string
		body      map[string]any
	}{
		"templated SendMessage": {communicationsv1connect.CommunicationsServiceSendMessageProcedure,
			map[string]any{"community": "demo", "idempotencyKey": "steal-1", "memberId": tc.victim.MemberID, "template": "leak"}},
		"templated SendMessage naming B's address": {communicationsv1connect.CommunicationsServiceSendMessageProcedure,
			map[string]any{"community": "demo", "idempotencyKey": "steal-2", "memberId": tc.victim.MemberID, "toEmail": tc.victim.Email, "template": "leak"}},
		"plain SendMessage": {communicationsv1connect.CommunicationsServiceSendMessageProcedure,
			map[string]any{"community": "demo", "idempotencyKey": "steal-3", "memberId": tc.victim.MemberID, "subject": "Hi", "textBody": "Hi"}},
		"PreviewTemplate": {communicationsv1connect.TemplatesServicePreviewTemplateProcedure,
			map[string]any{"community": "demo", "name": "leak", "memberId": tc.victim.MemberID}},
		"GetPreferences": {communicationsv1connect.AnnouncementsServiceGetPreferencesProcedure,
			map[string]any{"community": "demo", "memberId": tc.victim.MemberID}},
	} {
		t.Run(name, func(t *testing.T) {
			code, body := raw(t, tc.url+tt.procedure, tc.a, tt.body)
			if code != "not_found" {
				t.Errorf("%s = %s, want not_found", tt.procedure, code)
			}
			if !strings.Contains(body, "member_id") {
				t.Errorf("the refusal does not name member_id: %s", body)
			}
			tc.leaks(t, name, body)
		})
	}

	// An announcement of A reaches A's members only.
	code, body := raw(t, tc.url+communicationsv1connect.AnnouncementsServiceCreateAnnouncementProcedure, tc.a,
		map[string]any{"community": "demo", "template": "leak", "idempotencyKey": "leak-all"})
	if code != "ok" || !strings.Contains(body, `"recipients":"1"`) {
		t.Fatalf("A's announcement = %s %s, want one recipient", code, body)
	}
	eventually(t, "A's own member gets it", func() bool { return len(tc.sink.Messages("alice@demo.example")) == 1 })
	if got := tc.sink.Messages("alice@demo.example")[0]; strings.Contains(got.Subject+got.Text, tc.victim.Email) {
		t.Errorf("A's mail holds B's data: %+v", got)
	}
	if n := len(tc.sink.Messages(tc.victim.Email)); n != 1 { // B's own note only
		t.Errorf("e-mails to B's member = %d, want B's own one", n)
	}
	if n := tc.count(t, "SELECT count(*) FROM messages WHERE community = 'demo' AND member_id = ?", tc.victim.MemberID); n != 0 {
		t.Errorf("A queued %d messages for B's member", n)
	}
}

// Every RPC that takes an id, called by A's organiser with B's ids, is
// NotFound or PermissionDenied and holds no B data; the same calls naming
// B's community are PermissionDenied. B's data is unchanged afterwards.
func TestEveryIdOfAnotherCommunityIsNotFound(t *testing.T) {
	tc := startTwoCommunities(t)
	if code, _ := raw(t, tc.url+communicationsv1connect.TemplatesServiceSaveTemplateProcedure, tc.a, map[string]any{"community": "demo", "name": "leak",
		"variants": []any{map[string]any{"subject": "{{.Member.Email}}", "textBody": "{{.Member.DisplayName}}"}}}); code != "ok" {
		t.Fatal("A's template")
	}
	b := tc.victim.MemberID
	calls := []struct {
		procedure string
		body      map[string]any
		want      string
	}{
		{communicationsv1connect.CommunicationsServiceSendMessageProcedure, map[string]any{"idempotencyKey": "x-1", "memberId": b, "template": "leak"}, "not_found"},
		{communicationsv1connect.CommunicationsServiceGetMessageProcedure, map[string]any{"id": tc.bMessage}, "not_found"},
		{communicationsv1connect.CommunicationsServiceForgetMemberProcedure, map[string]any{"memberId": b}, "permission_denied"},
		{communicationsv1connect.TemplatesServiceGetTemplateProcedure, map[string]any{"name": "b-only"}, "not_found"},
		{communicationsv1connect.TemplatesServiceDeleteTemplateProcedure, map[string]any{"name": "b-only"}, "not_found"},
		{communicationsv1connect.TemplatesServicePreviewTemplateProcedure, map[string]any{"name": "leak", "memberId": b}, "not_found"},
		{communicationsv1connect.AnnouncementsServiceGetAnnouncementProcedure, map[string]any{"id": tc.bAnnouncement}, "not_found"},
		{communicationsv1connect.AnnouncementsServiceCancelAnnouncementProcedure, map[string]any{"id": tc.bAnnouncement}, "not_found"},
		{communicationsv1connect.AnnouncementsServiceDeleteWebhookProcedure, map[string]any{"id": tc.bWebhook}, "not_found"},
		{communicationsv1connect.AnnouncementsServiceGetPreferencesProcedure, map[string]any{"memberId": b}, "not_found"},
		{communicationsv1connect.AnnouncementsServiceSetPreferencesProcedure, map[string]any{"memberId": b,
			"preferences": map[string]any{"announcements": false, "digest": false}}, "not_found"},
	}
	for _, c := range calls {
		t.Run(c.procedure, func(t *testing.T) {
			body := map[string]any{"community": "demo"}
			for k, v := range c.body {
				body[k] = v
			}
			code, text := raw(t, tc.url+c.procedure, tc.a, body)
			if code != c.want {
				t.Errorf("with B's id: %s, want %s (%s)", code, c.want, text)
			}
			tc.leaks(t, c.procedure, text)
			body["community"] = "other"
			if code, text := raw(t, tc.url+c.procedure, tc.a, body); code != "permission_denied" {
				t.Errorf("naming B's community: %s, want permission_denied (%s)", code, text)
			}
		})
	}
	// Filters of lists find nothing of B's.
	for name, filter := range map[string]map[string]any{"by B's member": {"memberId": b}, "by B's announcement": {"announcementId": tc.bAnnouncement}} {
		filter["community"] = "demo"
		code, text := raw(t, tc.url+communicationsv1connect.CommunicationsServiceListDeliveriesProcedure, tc.a, filter)
		if code != "ok" || strings.Contains(text, tc.bMessage) || strings.Contains(text, `"messages"`) {
			t.Errorf("ListDeliveries %s = %s %s, want an empty page", name, code, text)
		}
	}
	// A's list of announcements holds none of B's, and B's cannot be asked
	// for; B's page token does not page A's list either.
	if code, text := raw(t, tc.url+communicationsv1connect.AnnouncementsServiceListAnnouncementsProcedure, tc.a, map[string]any{"community": "demo"}); code != "ok" ||
		strings.Contains(text, tc.bAnnouncement) {
		t.Errorf("A's announcements = %s %s, want none of B's", code, text)
	}
	if code, _ := raw(t, tc.url+communicationsv1connect.AnnouncementsServiceListAnnouncementsProcedure, tc.a, map[string]any{"community": "other"}); code != "permission_denied" {
		t.Errorf("A listing B's announcements: %s, want permission_denied", code)
	}
	if code, _ := raw(t, tc.url+communicationsv1connect.AnnouncementsServiceListAnnouncementsProcedure, tc.a, map[string]any{"community": "demo",
		"pageToken": rpc.EncodePageToken("other", tc.bAnnouncement)}); code != "invalid_argument" {
		t.Errorf("A paging with a token of B's list: %s, want invalid_argument", code)
	}
	if code, _ := raw(t, tc.url+auditv1connect.AuditServiceListAuditEntriesProcedure, tc.a, map[string]any{"community": "other"}); code != "permission_denied" {
		t.Errorf("A reading B's audit log: %s, want permission_denied", code)
	}

	// B's data is as B left it.
	for what, check := range map[string]struct {
		procedure string
		body      map[string]any
		contains  string
	}{
		"template":     {communicationsv1connect.TemplatesServiceGetTemplateProcedure, map[string]any{"community": "other", "name": "b-only"}, "B news"},
		"announcement": {communicationsv1connect.AnnouncementsServiceGetAnnouncementProcedure, map[string]any{"community": "other", "id": tc.bAnnouncement}, `"pending":"1"`},
		"webhook":      {communicationsv1connect.AnnouncementsServiceListWebhooksProcedure, map[string]any{"community": "other"}, tc.bWebhook},
		"preferences": {communicationsv1connect.AnnouncementsServiceGetPreferencesProcedure, map[string]any{"community": "other", "memberId": b},
			`"announcements":true`},
	} {
		if code, text := raw(t, tc.url+check.procedure, tc.b, check.body); code != "ok" || !strings.Contains(text, check.contains) {
			t.Errorf("B's %s after A's calls = %s %s, want it unchanged (%s)", what, code, text, check.contains)
		}
	}
}
