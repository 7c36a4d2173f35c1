package audit_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/audit/auditclient"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/rpc"
)

func organiser() context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Kind: auth.KindUser, Subject: "u-1", Community: "demo",
		Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
}

func record(t *testing.T, log *audit.Log, d interface {
	InTx(context.Context, func(*sql.Tx) error) error
}, action, target string) {
	t.Helper()
	ctx := organiser()
	if err := d.InTx(ctx, func(tx *sql.Tx) error { return log.Record(ctx, tx, "demo", action, "thing", target) }); err != nil {
		t.Fatal(err)
	}
}

func TestHandlerPagesAndWindows(t *testing.T) {
	d := dbtest.Open(t, "sqlite", pg, audit.Migrations())
	log := audit.New(d)
	mux := http.NewServeMux()
	mux.Handle(auditv1connect.NewAuditServiceHandler(audit.NewHandler(log, "events", slog.New(slog.DiscardHandler))))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := auditv1connect.NewAuditServiceClient(srv.Client(), srv.URL)
	ctx := context.Background()

	for _, target := range []string{"a", "b", "c"} {
		record(t, log, d, "event.created", target)
	}
	anon := func(tx *sql.Tx) error { return log.RecordAnonymous(ctx, tx, "demo", "rsvp.created", "rsvp", "r1") }
	if err := d.InTx(ctx, anon); err != nil {
		t.Fatal(err)
	}

	res, err := client.ListAuditEntries(ctx, connect.NewRequest(&auditv1.ListAuditEntriesRequest{Community: "demo", PageSize: 3}))
	if err != nil {
		t.Fatal(err)
	}
	es := res.Msg.GetEntries()
	if len(es) != 3 || es[0].GetActorKind() != audit.KindAnonymous || es[0].GetActorId() != "" || es[0].GetService() != "events" || es[2].GetTargetId() != "b" {
		t.Fatalf("first page = %v", es)
	}
	rest, err := client.ListAuditEntries(ctx, connect.NewRequest(&auditv1.ListAuditEntriesRequest{Community: "demo", PageToken: res.Msg.GetNextPageToken()}))
	if err != nil || len(rest.Msg.GetEntries()) != 1 || rest.Msg.GetEntries()[0].GetTargetId() != "a" || rest.Msg.GetNextPageToken() != "" {
		t.Fatalf("second page = %v, %v", rest.Msg.GetEntries(), err)
	}

	future := timestamppb.New(time.Now().Add(time.Hour))
	none, err := client.ListAuditEntries(ctx, connect.NewRequest(&auditv1.ListAuditEntriesRequest{Community: "demo", Since: future}))
	if err != nil || len(none.Msg.GetEntries()) != 0 {
		t.Fatalf("entries since an hour from now = %v, %v", none.Msg.GetEntries(), err)
	}

	for name, req := range map[string]*auditv1.ListAuditEntriesRequest{
		"page_size":  {Community: "demo", PageSize: 501},
		"until":      {Community: "demo", Since: future, Until: timestamppb.New(time.Now())},
		"page_token": {Community: "other", PageToken: res.Msg.GetNextPageToken()},
		"community":  {Community: "Not A Slug"},
	} {
		_, err := client.ListAuditEntries(ctx, connect.NewRequest(req))
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !contains(rpc.FieldViolations(err), name) {
			t.Errorf("%s: got %v, want InvalidArgument naming it", name, err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestReaderMergesEveryComponentByTime(t *testing.T) {
	type component struct {
		log *audit.Log
		d   interface {
			InTx(context.Context, func(*sql.Tx) error) error
		}
	}
	components := map[string]component{}
	clients := map[string]auditv1connect.AuditServiceClient{}
	for _, name := range []string{"members", "events", "partners"} {
		d := dbtest.Open(t, "sqlite", pg, audit.Migrations())
		log := audit.New(d)
		mux := http.NewServeMux()
		mux.Handle(auditv1connect.NewAuditServiceHandler(audit.NewHandler(log, name, slog.New(slog.DiscardHandler))))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		c := auditv1connect.NewAuditServiceClient(srv.Client(), srv.URL)
		components[name] = component{log: log, d: d}
		clients[name] = c
	}
	// Interleave writes across components; ids are UUIDv7, so they order by time.
	var want []string
	for i := range 7 {
		for _, name := range []string{"members", "events", "partners", "events"} {
			if name == "partners" && i%3 != 0 {
				continue
			}
			c := components[name]
			target := name + "-" + string(rune('a'+i))
			record(t, c.log, c.d, name+".changed", target)
			want = append(want, target)
			time.Sleep(2 * time.Millisecond) // distinct UUIDv7 milliseconds
		}
	}
	r := auditclient.Reader{Clients: clients}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("the reader never finished")
		}
		page, err := r.List(context.Background(), auditclient.Query{Community: "demo", PageSize: 4, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > 4 {
			t.Fatalf("page of %d entries", len(page.Entries))
		}
		for _, e := range page.Entries {
			got = append(got, e.GetTargetId())
			if e.GetService()+".changed" != e.GetAction() {
				t.Errorf("entry %s is labelled %s", e.GetAction(), e.GetService())
			}
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d entries, wrote %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[len(want)-1-i] {
			t.Fatalf("entry %d is %s; want %s (newest first across components)\ngot %v", i, got[i], want[len(want)-1-i], got)
		}
	}
	if _, err := r.List(context.Background(), auditclient.Query{Community: "other", PageToken: "bm90LWEtdG9rZW4"}); err == nil {
		t.Error("a foreign page token was accepted")
	}
}
