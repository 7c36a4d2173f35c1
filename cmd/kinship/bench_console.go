//go:build !nodev

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kinshiphq/kinship/console"
	"github.com/kinshiphq/kinship/console/apis"
	"github.com/kinshiphq/kinship/console/session"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
)

// benchConsole measures the server side of the console's pages whose cost
// grows with the community — the member list, the segment builder and its
// live count, a member's page, the dashboard and settings — over rows
// imported members: each page is rendered by the console's handler and
// every API call goes over HTTP to the members service on SQLite.
func benchConsole(ctx context.Context, rows int, logger *slog.Logger) (string, error) {
	env, err := startBenchEnv(ctx, logger)
	if err != nil {
		return "", err
	}
	defer env.stop()
	if _, err := benchImport(ctx, env, rows); err != nil {
		return "", err
	}
	first, err := env.client.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{Community: "demo", PageSize: 50}))
	if err != nil || len(first.Msg.GetMembers()) == 0 {
		return "", fmt.Errorf("bench: list members: %v", err)
	}
	memberID := first.Msg.GetMembers()[0].GetId()
	// Only the members service runs here: the other APIs point at it too
	// and answer Unimplemented at once, so their parts of a page (such as
	// the journey on a member's page) are left out of the timings.
	h, store, err := console.Handler(console.Config{Community: "demo", PublicURL: "http://127.0.0.1:8080",
		Auth: auth.TokenConfig{Issuer: env.issuer, Audience: "kinship"}, ClientID: "kinship-console",
		APIs: apis.URLs{Members: env.base, Events: env.base, Communications: env.base, Partners: env.base, Journeys: env.base}},
		console.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: noop.NewTracerProvider()})
	if err != nil {
		return "", err
	}
	id, _, err := store.Create(session.Session{Subject: "bench", Name: "Bench", Community: "demo", Roles: []string{"organiser"}, AccessToken: env.token}, time.Now().Add(time.Hour))
	if err != nil {
		return "", err
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	pages := []struct{ name, path string }{
		{"dashboard (member counts)", "/dashboard"},
		{"members, first page of everyone", "/members"},
		{"members, second page", "/members?page=" + url.QueryEscape(first.Msg.GetNextPageToken())},
		{"member search, a common prefix (~11k members)", "/members?q=member+1"},
		{"member search, one member by name", "/members?q=member+54321"},
		{"segment builder: one interest", "/members?interests=solar"},
		{"segment builder: interest and countries", "/members?interests=bikes&interests=repair&countries=DE,FR"},
		{"live count (htmx)", "/members/count?interests=solar&statuses=active"},
		{"a member's page", "/members/" + memberID},
		{"settings (keys, team, vocabularies)", "/settings"},
	}
	const warm, calls = 5, 50
	client := srv.Client()
	var b strings.Builder
	start := time.Now()
	benchHeader(&b, "Console pages over 100k members", fmt.Sprintf("kinship bench console -rows %d", rows), start)
	fmt.Fprintf(&b, "Target: p95 < 100 ms on the server. Each page is requested %d times one after another (after %d warm-up calls) "+
		"with an organiser's session, and renders from the members service on SQLite with %d members, over HTTP. "+
		"The console's own work is a few milliseconds (a member's page); a page with a segment filter waits for the members "+
		"service's CountSegment and ListSegmentMembers over the whole community (run in parallel), so its time is theirs.\n\n", calls, warm, rows)
	fmt.Fprintf(&b, "| page | p50 | p95 | max |\n| --- | ---: | ---: | ---: |\n")
	for _, p := range pages {
		var took []time.Duration
		for i := range warm + calls {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+p.path, nil)
			req.AddCookie(&http.Cookie{Name: "kinship_session", Value: id})
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				return "", fmt.Errorf("bench: %s: %w", p.name, err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return "", fmt.Errorf("bench: %s answered %d", p.name, res.StatusCode)
			}
			if i >= warm {
				took = append(took, time.Since(t0))
			}
		}
		slices.Sort(took)
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", p.name, ms(percentile(took, 0.5)), ms(percentile(took, 0.95)), ms(took[len(took)-1]))
	}
	b.WriteString("\n")
	return b.String(), nil
}
