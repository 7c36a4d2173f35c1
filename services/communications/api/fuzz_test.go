package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/outbound"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/services/communications/api"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
)

var key = []byte("0123456789abcdef0123456789abcdef")

// delivery sends nothing: every message is settled as sent.
type delivery struct{ st *store.Store }

func (d delivery) DeliverNow(ctx context.Context, m domain.Message) (store.Outcome, error) {
	o := store.Outcome{ID: m.ID, Status: domain.StatusSent, At: time.Now()}
	return o, d.st.Record(ctx, []store.Outcome{o})
}
func (delivery) Wake() {}

// members confirms every address.
type members struct{}

func (members) ConfirmEmail(context.Context, string, string, string) error { return nil }

// server is the API as the service mounts it — guard, Connect handlers,
// public endpoints — over SQLite, with one confirmed member (m1) and one
// sent message.
type server struct {
	mux       http.Handler
	organiser string
	messageID string
}

func newServer(t testing.TB) *server {
	t.Helper()
	d := dbtest.Open(t, "sqlite", nil, outbox.Migrations(), inbox.Migrations(), audit.Migrations(), store.Migrations())
	st := store.New(d, outbox.New(d, propagation.TraceContext{}))
	ctx := context.Background()
	if err := d.InTx(ctx, func(tx *sql.Tx) error {
		return st.PutRecipient(ctx, tx, domain.Recipient{MemberID: "m1", Community: "demo", Email: "ada@example.org", DisplayName: "Ada",
			Status: "active", JoinedAt: time.Now(), EmailVerified: true, Consents: []string{domain.PurposeAnnouncements}})
	}); err != nil {
		t.Fatal(err)
	}
	policy, err := outbound.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	h := api.New(st, delivery{st}, audit.New(d), logger, api.Options{Communities: []string{"demo"}, UnsubscribeKey: key,
		BounceSecret: []byte("bounce-secret"), Destinations: func(raw string) error { _, err := policy.CheckURL(raw); return err }, Members: members{}})
	issuer := authtest.Start(t)
	tokens, err := auth.NewTokenVerifier(issuer.Config(), http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	opts := rpc.HandlerOptions(noop.NewTracerProvider(), logger, auth.NewInterceptor(auth.Options{Tokens: tokens, Policy: api.Policy(), Logger: logger}))
	mux := http.NewServeMux()
	mux.Handle(communicationsv1connect.NewCommunicationsServiceHandler(h, opts...))
	mux.Handle(communicationsv1connect.NewTemplatesServiceHandler(h, opts...))
	mux.Handle(communicationsv1connect.NewAnnouncementsServiceHandler(h, opts...))
	mux.Handle(auditv1connect.NewAuditServiceHandler(audit.NewHandler(audit.New(d), "communications", logger), opts...))
	h.Routes(mux)
	s := &server{mux: mux, organiser: issuer.For(t, "demo", auth.Organiser)}
	// One sent message, for bounce reports.
	res := s.do(http.MethodPost, communicationsv1connect.CommunicationsServiceSendMessageProcedure, "application/json", s.organiser,
		`{"community":"demo","idempotencyKey":"k1","memberId":"m1","subject":"Hi","textBody":"Hello"}`)
	if res.Code != http.StatusOK {
		t.Fatalf("seed message: %d %s", res.Code, res.Body)
	}
	s.messageID = strings.Split(strings.Split(res.Body.String(), `"id":"`)[1], `"`)[0]
	return s
}

func (s *server) do(method, target, contentType, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://communications.test"+target, bytes.NewReader([]byte(body)))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, req)
	return rec
}

// FuzzBounceReport feeds arbitrary bodies and tokens to POST /bounces:
// never a panic or a server error, and only the community's own token
// gets a report recorded.
func FuzzBounceReport(f *testing.F) {
	s := newServer(f)
	demo := domain.BounceToken([]byte("bounce-secret"), "demo")
	for _, body := range []string{
		`{"community":"demo","message_id":"<` + "MSG" + `@kinship.test>","hard":true,"reason":"550 5.1.1 unknown"}`,
		`{"community":"demo","message_id":"<x@y>","hard":false,"reason":"` + strings.Repeat("é", 600) + `"}`,
		`{"community":"other","message_id":"<x@y>"}`, `{"community":"demo","message_id":""}`, `{"reason":"\u0000\ud800"}`,
		`not json`, ``, `{"community":["demo"]}`, `{"community":"demo","message_id":"` + strings.Repeat("a", 100) + `"}`,
	} {
		f.Add(demo, body)
		f.Add("wrong", body)
	}
	f.Fuzz(func(t *testing.T, token, body string) {
		body = strings.ReplaceAll(body, "MSG", s.messageID)
		res := s.do(http.MethodPost, "/bounces", "application/json", token, body)
		if res.Code >= 500 {
			t.Fatalf("POST /bounces %q = %d %s", body, res.Code, res.Body)
		}
		if res.Code == http.StatusNoContent && token != demo {
			t.Fatalf("a report with token %q was recorded", token)
		}
	})
}

// FuzzPublicLinks feeds arbitrary tokens to the unsubscribe and
// confirmation pages: never a panic or a server error, and nothing but a
// signed token of the right purpose is accepted.
func FuzzPublicLinks(f *testing.F) {
	s := newServer(f)
	unsub := domain.SignUnsubscribe(key, domain.UnsubscribeToken{Community: "demo", MemberID: "m1", Purpose: domain.PurposeAnnouncements, Expires: time.Now().Add(time.Hour)})
	confirm := domain.SignConfirm(key, domain.ConfirmToken{Community: "demo", MemberID: "m1", MessageID: s.messageID, Reason: domain.ConfirmJoin,
		AddressHash: domain.HashAddress("ada@example.org"), Expires: time.Now().Add(time.Hour)})
	for _, tok := range []string{unsub, confirm, "", "x", "a.b", unsub + "x", "%00", strings.Repeat("A", 3000)} {
		f.Add(uint8(0), tok)
		f.Add(uint8(3), tok)
	}
	endpoints := []struct{ method, path string }{{http.MethodGet, "/unsubscribe"}, {http.MethodPost, "/unsubscribe"}, {http.MethodGet, "/confirm"}, {http.MethodPost, "/confirm"}}
	f.Fuzz(func(t *testing.T, which uint8, token string) {
		e := endpoints[int(which)%len(endpoints)]
		res := s.do(e.method, e.path+"?t="+url.QueryEscape(token), "application/x-www-form-urlencoded", "", "List-Unsubscribe=One-Click")
		if res.Code >= 500 {
			t.Fatalf("%s %s?t=%q = %d %s", e.method, e.path, token, res.Code, res.Body)
		}
		if res.Code == http.StatusOK && e.method == http.MethodPost {
			_, uerr := domain.VerifyUnsubscribe(key, token, time.Now())
			_, cerr := domain.VerifyConfirm(key, token, time.Now())
			if (e.path == "/unsubscribe" && uerr != nil) || (e.path == "/confirm" && cerr != nil) {
				t.Fatalf("%s accepted %q", e.path, token)
			}
		}
	})
}

// FuzzConnectJSON feeds arbitrary JSON to every procedure, with and
// without an organiser's token: the guard and the handlers answer with a
// client error, never a panic or an internal error.
func FuzzConnectJSON(f *testing.F) {
	s := newServer(f)
	procedures := []string{
		communicationsv1connect.CommunicationsServiceSendMessageProcedure, communicationsv1connect.CommunicationsServiceGetMessageProcedure,
		communicationsv1connect.CommunicationsServiceListDeliveriesProcedure, communicationsv1connect.CommunicationsServiceForgetMemberProcedure,
		communicationsv1connect.TemplatesServiceSaveTemplateProcedure, communicationsv1connect.TemplatesServiceGetTemplateProcedure,
		communicationsv1connect.TemplatesServiceListTemplatesProcedure, communicationsv1connect.TemplatesServiceDeleteTemplateProcedure,
		communicationsv1connect.TemplatesServicePreviewTemplateProcedure, communicationsv1connect.AnnouncementsServiceCreateAnnouncementProcedure,
		communicationsv1connect.AnnouncementsServiceGetAnnouncementProcedure, communicationsv1connect.AnnouncementsServiceCancelAnnouncementProcedure,
		communicationsv1connect.AnnouncementsServiceListAnnouncementsProcedure, communicationsv1connect.AnnouncementsServiceGetSendingPolicyProcedure,
		communicationsv1connect.AnnouncementsServiceCreateWebhookProcedure, communicationsv1connect.AnnouncementsServiceListWebhooksProcedure,
		communicationsv1connect.AnnouncementsServiceDeleteWebhookProcedure, communicationsv1connect.AnnouncementsServiceGetPreferencesProcedure,
		communicationsv1connect.AnnouncementsServiceSetPreferencesProcedure, communicationsv1connect.AnnouncementsServiceListSuppressionsProcedure,
		communicationsv1connect.AnnouncementsServiceRemoveSuppressionProcedure, auditv1connect.AuditServiceListAuditEntriesProcedure,
	}
	for i, body := range []string{
		`{"community":"demo","idempotencyKey":"k2","memberId":"m1","template":"news","variables":{"x":"y"}}`,
		`{"community":"demo","id":"01a21500-0000-7000-8000-000000000000"}`,
		`{"community":"demo","memberId":"m1","pageSize":1000,"pageToken":"!!"}`,
		`{"community":"demo","memberId":"m1"}`,
		`{"community":"demo","name":"news","variants":[{"subject":"Hi","textBody":"{{range 1000000000}}x{{end}}"}]}`,
		`{"community":"demo","name":"news"}`, `{"community":"demo"}`, `{"community":"demo","name":"news"}`,
		`{"community":"demo","name":"news","memberId":"m1","locale":"de-AT"}`,
		`{"community":"demo","template":"news","idempotencyKey":"a1","filter":{"countryCodes":["Narnia"]},"sendAt":"9999-12-31T23:59:59Z"}`,
		`{"community":"demo","id":""}`, `{"community":"demo","id":"x"}`,
		`{"community":"demo","url":"https://[fd00:ec2::254]/","format":"WEBHOOK_FORMAT_SLACK"}`, `{"community":"demo"}`,
		`{"community":"demo","id":"w"}`, `{"community":"demo","memberId":"m1"}`,
		`{"community":"demo","memberId":"m1","preferences":{"announcements":false}}`, `{"community":"demo"}`,
		`{"community":"demo","email":"ADA@EXAMPLE.ORG"}`, `{"community":"demo","since":"0001-01-01T00:00:00Z","until":"0001-01-01T00:00:00Z"}`,
	} {
		f.Add(uint8(i), true, body)
	}
	f.Add(uint8(0), false, `{"community":"demo"}`)
	f.Add(uint8(4), true, `{"community":"demo","name":"`+strings.Repeat("x", 70)+`","variants":[`+strings.Repeat(`{"subject":"a","textBody":"b"},`, 25)+`{}]}`)
	f.Add(uint8(0), true, "\xff\xfe")
	f.Fuzz(func(t *testing.T, which uint8, withToken bool, body string) {
		procedure := procedures[int(which)%len(procedures)]
		token := ""
		if withToken {
			token = s.organiser
		}
		res := s.do(http.MethodPost, procedure, "application/json", token, body)
		if res.Code >= 500 || strings.Contains(res.Body.String(), `"code":"internal"`) || strings.Contains(res.Body.String(), `"code":"unknown"`) {
			t.Fatalf("%s %q = %d %s", procedure, body, res.Code, res.Body)
		}
		if !withToken && res.Code == http.StatusOK {
			t.Fatalf("%s answered without credentials", procedure)
		}
	})
}

// The fuzzed server serves the API: a seed that fails for want of a route
// would prove nothing.
func TestTheFuzzedServerServesTheAPI(t *testing.T) {
	s := newServer(t)
	res := s.do(http.MethodPost, communicationsv1connect.TemplatesServiceListTemplatesProcedure, "application/json", s.organiser, `{"community":"demo"}`)
	if res.Code != http.StatusOK {
		t.Fatal(fmt.Sprint(res.Code, res.Body))
	}
}
