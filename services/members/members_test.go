package members_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace/noop"
	_ "modernc.org/sqlite"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/services/members"
	"github.com/kinshiphq/kinship/services/members/events"
)

type service struct {
	url     string
	dbPath  string
	brokers []string
	issuer  *authtest.Issuer
	// client calls as the demo organiser, anon without credentials.
	client membersv1connect.MembersServiceClient
	anon   membersv1connect.MembersServiceClient
}

func start(t *testing.T) *service { t.Helper(); return startWith(t, nil) }

// startWith runs the service with deps changed by change (a clock, for
// instance) before it starts.
func startWith(t *testing.T, change func(*members.Deps)) *service {
	t.Helper()
	brokers := kafkatest.Start(t)
	if err := kafka.EnsureTopics(context.Background(), brokers, kafka.Security{}, kafka.Topic{Name: events.Topic("demo"), Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &service{url: "http://" + ln.Addr().String(), dbPath: filepath.Join(t.TempDir(), "members.db"), brokers: brokers, issuer: authtest.Start(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	deps := members.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: noop.NewTracerProvider(), Listener: ln}
	if change != nil {
		change(&deps)
	}
	go func() {
		done <- members.Run(ctx, members.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: s.dbPath, KafkaBrokers: brokers,
			Communities: []string{"demo", "other"}, Auth: s.issuer.Config()}, deps)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("members.Run: %v", err)
		}
	})
	readyCtx, readyCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer readyCancel()
	if err := serve.WaitReady(readyCtx, s.url); err != nil {
		t.Fatal(err)
	}
	s.client = membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	s.anon = membersv1connect.NewMembersServiceClient(http.DefaultClient, s.url)
	return s
}

// add joins a member as the demo organiser, vouching for their address,
// and returns their id.
func (s *service) add(t *testing.T, req *membersv1.JoinCommunityRequest) string {
	t.Helper()
	res, err := s.client.JoinCommunity(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetMember().GetId()
}

func (s *service) count(t *testing.T, table string) int {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+s.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *service) topicRecords(t *testing.T) int64 {
	t.Helper()
	conn, err := kafkago.DialLeader(context.Background(), "tcp", s.brokers[0], events.Topic("demo"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func validJoin() *membersv1.JoinCommunityRequest {
	return &membersv1.JoinCommunityRequest{Community: "demo", Email: "ada@example.org", DisplayName: "Ada Lovelace", Interests: []string{"solar"}, EmailConsent: true}
}

func TestJoinCommunityPublishesMemberJoined(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	res, err := s.client.JoinCommunity(ctx, connect.NewRequest(validJoin()))
	if err != nil {
		t.Fatal(err)
	}
	m := res.Msg.GetMember()
	if m.GetId() == "" || m.GetStatus() != membersv1.MemberStatus_MEMBER_STATUS_ACTIVE || m.GetEmail() != "ada@example.org" ||
		!m.GetEmailVerified() || !m.GetEmailConsent() {
		t.Errorf("member an organiser added = %v, want active, verified, consenting", m)
	}
	got, err := s.client.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: "demo", Id: m.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Msg.GetMember().GetDisplayName() != "Ada Lovelace" {
		t.Errorf("GetMember = %v", got.Msg.GetMember())
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.topicRecords(t) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("MemberJoined and ConsentChanged never reached the topic")
		}
		time.Sleep(20 * time.Millisecond)
	}

	_, err = s.client.JoinCommunity(ctx, connect.NewRequest(validJoin()))
	if connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Errorf("an organiser adding the same e-mail again: %v, want AlreadyExists", err)
	}
}

func TestGRPCClientsReachTheAPIOverH2C(t *testing.T) {
	s := start(t)
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: protocols}}
	grpcClient := membersv1connect.NewMembersServiceClient(h2c, s.url, connect.WithGRPC(), authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	res, err := grpcClient.JoinCommunity(context.Background(), connect.NewRequest(validJoin()))
	if err != nil {
		t.Fatalf("gRPC JoinCommunity: %v", err)
	}
	if res.Msg.GetMember().GetId() == "" {
		t.Error("gRPC JoinCommunity returned no member")
	}
	_, err = grpcClient.GetMember(context.Background(), connect.NewRequest(&membersv1.GetMemberRequest{Community: "demo", Id: "missing"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("gRPC GetMember of a missing id = %v, want NotFound", err)
	}
}

func TestBadInputIsRefusedAndLeavesNoTrace(t *testing.T) {
	s := start(t)
	tests := []struct {
		name   string
		mutate func(*membersv1.JoinCommunityRequest)
		field  string
	}{
		{"invalid e-mail", func(r *membersv1.JoinCommunityRequest) { r.Email = "ada-at-example.org" }, "email"},
		{"empty display name", func(r *membersv1.JoinCommunityRequest) { r.DisplayName = "" }, "display_name"},
		{"10 KB display name", func(r *membersv1.JoinCommunityRequest) { r.DisplayName = strings.Repeat("x", 10<<10) }, "display_name"},
		{"unknown community", func(r *membersv1.JoinCommunityRequest) { r.Community = "elsewhere" }, "community"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := validJoin()
			tt.mutate(req)
			_, err := s.anon.JoinCommunity(context.Background(), connect.NewRequest(req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error = %v, want InvalidArgument", err)
			}
			if fields := rpc.FieldViolations(err); !slices.Equal(fields, []string{tt.field}) {
				t.Errorf("field violations = %v, want [%s]", fields, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("message %q does not name %s", err.Error(), tt.field)
			}
		})
	}

	t.Run("malformed JSON", func(t *testing.T) {
		for _, body := range []string{`{"community": "demo", "email": `, `{"community": 42}`, `[]`} {
			res, err := http.Post(s.url+membersv1connect.MembersServiceJoinCommunityProcedure, "application/json", bytes.NewBufferString(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "invalid_argument") {
				t.Errorf("POST %s = %d %s, want 400 invalid_argument", body, res.StatusCode, b)
			}
		}
	})

	t.Run("oversized body", func(t *testing.T) {
		body := fmt.Sprintf(`{"community":"demo","email":"a@example.org","displayName":"%s"}`, strings.Repeat("x", 2<<20))
		res, err := http.Post(s.url+membersv1connect.MembersServiceJoinCommunityProcedure, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("2 MiB body status = %d, want a 4xx", res.StatusCode)
		}
	})

	time.Sleep(200 * time.Millisecond) // give a wrongly appended event time to be relayed
	if n := s.count(t, "members"); n != 0 {
		t.Errorf("members stored = %d, want 0", n)
	}
	if n := s.count(t, "audit_log"); n != 0 {
		t.Errorf("audit entries = %d, want 0", n)
	}
	if n := s.count(t, "outbox"); n != 0 {
		t.Errorf("outbox events = %d, want 0", n)
	}
	if n := s.topicRecords(t); n != 0 {
		t.Errorf("records published = %d, want 0", n)
	}
}

func TestListMembersPages(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	for i := range 5 {
		req := validJoin()
		req.Email = fmt.Sprintf("m%d@example.org", i)
		if _, err := s.client.JoinCommunity(ctx, connect.NewRequest(req)); err != nil {
			t.Fatal(err)
		}
	}
	var emails []string
	token := ""
	for pages := 0; ; pages++ {
		res, err := s.client.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{Community: "demo", PageSize: 2, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Msg.GetMembers() {
			emails = append(emails, m.GetEmail())
		}
		token = res.Msg.GetNextPageToken()
		if token == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	want := []string{"m0@example.org", "m1@example.org", "m2@example.org", "m3@example.org", "m4@example.org"}
	if !slices.Equal(emails, want) {
		t.Errorf("paged e-mails = %v, want %v", emails, want)
	}

	for name, req := range map[string]*membersv1.ListMembersRequest{
		"forged token":  {Community: "demo", PageToken: "not-a-token!"},
		"negative size": {Community: "demo", PageSize: -1},
	} {
		_, err := s.client.ListMembers(ctx, connect.NewRequest(req))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: error = %v, want InvalidArgument", name, err)
		}
	}
	implicit, err := s.client.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{PageSize: 10}))
	if err != nil || len(implicit.Msg.GetMembers()) != 5 {
		t.Errorf("ListMembers without a community = %v, %v; want the token's community's 5 members", len(implicit.Msg.GetMembers()), err)
	}
	_, err = s.client.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: "demo", Id: "nope"}))
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeNotFound {
		t.Errorf("GetMember of a missing id = %v, want NotFound", err)
	}
}
