package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/types/known/timestamppb"
	_ "modernc.org/sqlite"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/services/events/api"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

// feedToken is demo member ada's private feed token in the fuzzed service.
const feedToken = "fuzz-token-0123456789abcdefghijklmnopqrstuvwxyz"

// Titles the feeds may show only where they belong.
const (
	publicTitle  = "Public repair café"
	membersTitle = "Members-only circle"
	draftTitle   = "Unpublished draft"
	otherTitle   = "Other community's evening"
)

// feedServer serves the three calendar feeds over a SQLite store holding a
// public, a members-only and a draft event of demo, a public event of
// "other", and ada's seat at the members-only event with her feed token.
func feedServer(f *testing.F) (http.Handler, map[string]string) {
	d := dbtest.Open(f, "sqlite", nil, outbox.Migrations(), inbox.Migrations(), audit.Migrations(), store.Migrations())
	log := audit.New(d)
	st := store.New(d, outbox.New(d, propagation.TraceContext{}), published.Factory{}, log, store.Options{})
	h := api.New(st, log, slog.New(slog.DiscardHandler), api.Options{Communities: []string{"demo", "other"}})
	ctx := context.Background()
	organiser := func(community string) context.Context {
		return auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindUser, Subject: "o-" + community, Community: community,
			Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
	}
	at := time.Now().UTC().Truncate(time.Hour).Add(7 * 24 * time.Hour)
	ids := map[string]string{}
	create := func(community, title string, visibility eventsv1.Visibility, publish bool) string {
		res, err := h.CreateEvent(organiser(community), connect.NewRequest(&eventsv1.CreateEventRequest{Community: community, Event: &eventsv1.EventSpec{
			Title: title, Kind: eventsv1.EventKind_EVENT_KIND_ONLINE, OnlineUrl: "https://meet.example.org/" + community,
			StartTime: timestamppb.New(at), EndTime: timestamppb.New(at.Add(time.Hour)), TimeZone: "Europe/Berlin", Visibility: visibility}}))
		if err != nil {
			f.Fatal(err)
		}
		id := res.Msg.GetEvent().GetId()
		if publish {
			if _, err := h.PublishEvent(organiser(community), connect.NewRequest(&eventsv1.PublishEventRequest{Community: community, Id: id})); err != nil {
				f.Fatal(err)
			}
		}
		return id
	}
	ids["public"] = create("demo", publicTitle, eventsv1.Visibility_VISIBILITY_PUBLIC, true)
	ids["members"] = create("demo", membersTitle, eventsv1.Visibility_VISIBILITY_MEMBERS, true)
	ids["draft"] = create("demo", draftTitle, eventsv1.Visibility_VISIBILITY_PUBLIC, false)
	ids["other"] = create("other", otherTitle, eventsv1.Visibility_VISIBILITY_PUBLIC, true)
	ada := auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindUser, Subject: "u-ada", Community: "demo", Roles: []auth.Role{auth.Member},
		MemberID: "ada"}, auth.ScopeSelf)
	members, _, err := st.GetEvent(ctx, "demo", ids["members"])
	if err != nil {
		f.Fatal(err)
	}
	if _, err := h.RSVP(ada, connect.NewRequest(&eventsv1.RSVPRequest{Community: "demo", EventId: members.ID, OccurrenceId: mustOccurrence(f, st, ids["members"]),
		Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING})); err != nil {
		f.Fatal(err)
	}
	if _, err := st.FeedToken(ada, "demo", "ada", feedToken, false); err != nil {
		f.Fatal(err)
	}
	feeds := api.NewFeeds(h, noop.NewTracerProvider())
	mux := http.NewServeMux()
	mux.Handle(api.PublicFeedPattern, feeds.Public())
	mux.Handle(api.MemberFeedPattern, feeds.Member())
	mux.Handle(api.EventICSPattern, feeds.Event())
	return mux, ids
}

func mustOccurrence(f *testing.F, st *store.Store, eventID string) string {
	_, occs, err := st.GetEvent(context.Background(), "demo", eventID)
	if err != nil || len(occs) == 0 {
		f.Fatal(err)
	}
	return occs[0].ID
}

// FuzzCalendarFeeds requests arbitrary paths under /calendar/ — the
// service's only endpoints open without credentials — with arbitrary
// conditional headers. Every answer is a calendar, Not Modified, a
// redirect to the cleaned path, or Not Found; never a server error or a
// panic. A calendar is served only where it belongs: a member's seat
// only under her exact token, another community's event only under that
// community's paths, a draft never.
//
//	go test -run XXX -fuzz FuzzCalendarFeeds -fuzztime 60s ./services/events/api/
func FuzzCalendarFeeds(f *testing.F) {
	mux, ids := feedServer(f)
	// The feeds serve what they should, so the checks below have teeth.
	for p, want := range map[string]string{"demo.ics": publicTitle, "member/" + feedToken + ".ics": membersTitle, "other.ics": otherTitle,
		"demo/events/" + ids["public"] + ".ics": publicTitle} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/calendar/"+p, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			f.Fatalf("GET %s = %d without %q", p, rec.Code, want)
		}
	}
	for _, p := range []string{"demo.ics", "other.ics", "nowhere.ics", "DEMO.ics", "demo", "demo.ics.ics", "member/" + feedToken + ".ics",
		"member/" + feedToken[:40] + ".ics", "member/" + strings.ToUpper(feedToken) + ".ics", "member/" + strings.Repeat("A", 64) + ".ics",
		"member/" + feedToken + "%00.ics", "member/../demo.ics", "demo/events/" + ids["public"] + ".ics", "demo/events/" + ids["draft"] + ".ics",
		"demo/events/" + ids["members"] + ".ics", "demo/events/" + ids["other"] + ".ics", "other/events/" + ids["other"] + ".ics",
		"../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "demo/events/x';--.ics", "", "/", "demo/events/", "member/.ics"} {
		f.Add(p, "")
	}
	f.Add("demo.ics", `"*"`)
	f.Add("demo.ics", strings.Repeat(`"a",`, 1000))
	f.Fuzz(func(t *testing.T, rawPath, ifNoneMatch string) {
		req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/calendar/" + rawPath}, Header: http.Header{}, Host: "events.example.org"}
		req = req.WithContext(context.Background())
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		body := rec.Body.String()
		switch rec.Code {
		case http.StatusOK:
			if !strings.HasPrefix(body, "BEGIN:VCALENDAR\r\n") || rec.Header().Get("Content-Type") != "text/calendar; charset=utf-8" {
				t.Fatalf("GET %q = 200 with %q", rawPath, body)
			}
		case http.StatusNotModified, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusNotFound,
			http.StatusMethodNotAllowed, http.StatusBadRequest:
			return
		default:
			t.Fatalf("GET %q = %d %q", rawPath, rec.Code, body)
		}
		served := path.Clean("/calendar/" + rawPath)
		if strings.Contains(body, draftTitle) {
			t.Fatalf("GET %q served a draft", rawPath)
		}
		if strings.Contains(body, membersTitle) && served != "/calendar/member/"+feedToken+".ics" {
			t.Fatalf("GET %q served ada's members-only event", rawPath)
		}
		if strings.Contains(body, otherTitle) && !strings.HasPrefix(served, "/calendar/other") {
			t.Fatalf("GET %q served another community's event", rawPath)
		}
		if strings.HasPrefix(served, "/calendar/member/") && served != "/calendar/member/"+feedToken+".ics" {
			t.Fatalf("GET %q served a member feed", rawPath)
		}
	})
}
