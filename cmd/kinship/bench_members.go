//go:build !nodev

package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

type joinResult struct {
	latencies  []time.Duration
	start, end time.Time
	drain      time.Duration
}

// loadJoin sends n joins from concurrency clients and records each latency.
func loadJoin(ctx context.Context, client membersv1connect.MembersServiceClient, n, concurrency int) (*joinResult, error) {
	var next, failures atomic.Int64
	var mu sync.Mutex
	var firstErr error
	res := &joinResult{latencies: make([]time.Duration, 0, n), start: time.Now()}
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			local := make([]time.Duration, 0, n/concurrency+1)
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					break
				}
				t0 := time.Now()
				_, err := client.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{
					Community: "demo", Email: fmt.Sprintf("bench-%d@example.org", i), DisplayName: "Bench Member",
					Interests: []string{"solar", "climate"}, EmailConsent: i%2 == 0,
				}))
				if err != nil {
					failures.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.end = time.Now()
	if f := failures.Load(); f > 0 {
		return nil, fmt.Errorf("bench: %d joins failed; first: %w", f, firstErr)
	}
	return res, ctx.Err()
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[int(p*float64(len(sorted)-1))]
}

// benchCSV builds rows members with varied, realistic profiles.
func benchCSV(rows int) []byte {
	interests := []string{"solar", "climate", "bikes", "gardening", "repair", "food", "housing", "transport"}
	countries := []string{"DE", "FR", "NL", "AT", "CH", "BE", "DK", "PL"}
	cities := []string{"Berlin", "Paris", "Utrecht", "Vienna", "Zurich", "Ghent", "Aarhus", "Krakow"}
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString("email,display_name,interests,skills,locale,time_zone,city,region,country_code,motivation,availability_hours_per_month,email_consent\n")
	for i := range rows {
		c := r.IntN(len(countries))
		fmt.Fprintf(&b, "member-%d@example.org,Member %d,%s;%s,design,en,Europe/Berlin,%s,,%s,\"I want to help, really.\",%d,%t\n",
			i, i, interests[r.IntN(len(interests))], interests[r.IntN(len(interests))], cities[c], countries[c], r.IntN(40), r.IntN(3) > 0)
	}
	return b.Bytes()
}

// benchImport imports rows members in one stream and measures it.
func benchImport(ctx context.Context, env *benchEnv, rows int) (string, error) {
	data := benchCSV(rows)
	start := time.Now()
	stream := env.client.ImportMembers(ctx)
	first := true
	for len(data) > 0 || first {
		n := min(len(data), 256<<10)
		req := &membersv1.ImportMembersRequest{Chunk: data[:n]}
		if first {
			req.Community, first = "demo", false
		}
		if err := stream.Send(req); err != nil {
			break
		}
		data = data[n:]
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		return "", fmt.Errorf("bench: import: %w", err)
	}
	end := time.Now()
	if res.Msg.GetCreated() != int64(rows) {
		return "", fmt.Errorf("bench: import created %d of %d rows (%d failed)", res.Msg.GetCreated(), rows, res.Msg.GetFailed())
	}
	drain, err := env.waitDrained(ctx, end)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	benchHeader(&b, "ImportMembers on SQLite", fmt.Sprintf("kinship bench import -rows %d", rows), start)
	fmt.Fprintf(&b, "Target: 100k rows in < 60 s. Each row creates a member with tags and a consent record, and publishes MemberJoined and ConsentChanged.\n\n")
	fmt.Fprintf(&b, "| rows | import took | rows/s | all events on Kafka after |\n| ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(&b, "| %d | %.1f s | %.0f | %.1f s |\n\n", rows, end.Sub(start).Seconds(), float64(rows)/end.Sub(start).Seconds(), drain.Seconds())
	return b.String(), nil
}

// benchSegments counts segments over the imported members.
func benchSegments(ctx context.Context, env *benchEnv, rows int) (string, error) {
	segments := membersv1connect.NewSegmentsServiceClient(env.http, env.base,
		connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(env.token))))
	filters := []struct {
		name   string
		filter *membersv1.SegmentFilter
	}{
		{"everyone", &membersv1.SegmentFilter{}},
		{"one interest", &membersv1.SegmentFilter{Interests: []string{"solar"}}},
		{"interest and country", &membersv1.SegmentFilter{Interests: []string{"bikes", "repair"}, CountryCodes: []string{"DE", "FR"}}},
		{"consent and level", &membersv1.SegmentFilter{Consents: []string{"email.announcements"}, Levels: []string{"Observer"}}},
	}
	var b strings.Builder
	start := time.Now()
	benchHeader(&b, "CountSegment on SQLite", fmt.Sprintf("kinship bench segments -rows %d", rows), start)
	fmt.Fprintf(&b, "Target: < 200 ms over 100k members. 20 calls per filter.\n\n")
	fmt.Fprintf(&b, "| filter | members | p50 | max |\n| --- | ---: | ---: | ---: |\n")
	for _, f := range filters {
		var took []time.Duration
		var count int64
		for range 20 {
			t0 := time.Now()
			res, err := segments.CountSegment(ctx, connect.NewRequest(&membersv1.CountSegmentRequest{Community: "demo", Filter: f.filter}))
			if err != nil {
				return "", fmt.Errorf("bench: count %s: %w", f.name, err)
			}
			took = append(took, time.Since(t0))
			count = res.Msg.GetCount()
		}
		slices.Sort(took)
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", f.name, count, ms(percentile(took, 0.5)), ms(took[len(took)-1]))
	}
	b.WriteString("\n")
	return b.String(), nil
}
