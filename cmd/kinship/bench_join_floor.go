//go:build !nodev

package main

import (
	"context"
	"fmt"
	"log/slog"
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

// joinFloorCommunity is a community the caller's token is not for: the
// service authenticates the caller and refuses the join before any
// database work.
const joinFloorCommunity = "other-community"

// joinRow is one row of the join table.
type joinRow struct {
	engine, shape string
	calls         int
	rate          float64
	sorted        []time.Duration
	drain         time.Duration // accepted joins only
	load          string
}

// benchJoinFloor measures JoinCommunity on every engine beside its floor:
// the same requests from the same clients, refused after authentication
// and before the database. Accepted joins are checked: every one is a
// member of the community afterwards, and every event reached Kafka.
func benchJoinFloor(ctx context.Context, n, concurrency int, logger *slog.Logger) (string, error) {
	engines, stopEngines, err := benchEngines(ctx)
	if err != nil {
		return "", err
	}
	defer stopEngines()
	start := time.Now()
	var rows []joinRow
	for _, engine := range engines {
		logger.Info("join benchmark", "engine", engine.name, "joins", n, "clients", concurrency)
		env, err := startBenchEnvOn(ctx, logger, nil, engine)
		if err != nil {
			return "", err
		}
		accepted, floor, err := joinAndFloor(ctx, env, engine.name, n, concurrency)
		env.stop()
		if err != nil {
			return "", err
		}
		rows = append(rows, accepted, floor)
	}
	var b strings.Builder
	benchHeader(&b, "JoinCommunity against its floor, SQLite and PostgreSQL", fmt.Sprintf("kinship bench join -requests %d -concurrency %d", n, concurrency), start)
	fmt.Fprintf(&b, "Targets: ≥ 2,000 accepted/s with p99 < 25 ms; accepted joins ≥ 0.4 × the floor. Each engine gets a fresh members service "+
		"(its outbox relaying to the in-process broker) called over HTTP/1.1 by %d clients in this process, as the team adds members "+
		"(organiser token). The floor sends the same %d requests from the same clients for another community than the token's: the "+
		"service decodes and authenticates each (the one organiser token: its signature checked on first use, then taken from the verifier's "+
		"cache, as for the accepted joins) and refuses it (PermissionDenied) before any database work, so the floor is what HTTP, Connect, "+
		"authentication and the load generator cost on this machine. 50 joins warm each service up first. Checked: afterwards the "+
		"community holds exactly the members joined (CountSegment over everyone), and every event reached Kafka (the time after "+
		"the last accepted join is in its column). Load is the one-minute load average after the row. %s\n\n", concurrency, n, benchPostgresNote)
	fmt.Fprintf(&b, "| engine | shape | joins | joins/s | × floor | p50 | p90 | p99 | max | all events on Kafka after | load |\n")
	fmt.Fprintf(&b, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for i := 0; i < len(rows); i += 2 {
		acc, floor := rows[i], rows[i+1]
		for _, r := range []joinRow{acc, floor} {
			x, drain := ratio(r.rate, floor.rate), ms(r.drain)
			if r.shape != "accepted" {
				x, drain = "1.00", "–"
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %s | %s | %s | %s | %s | %s | %s |\n", r.engine, r.shape, r.calls, r.rate, x,
				ms(percentile(r.sorted, 0.5)), ms(percentile(r.sorted, 0.9)), ms(percentile(r.sorted, 0.99)), ms(r.sorted[len(r.sorted)-1]), drain, r.load)
		}
	}
	b.WriteString("\n")
	return b.String(), nil
}

// joinAndFloor runs the accepted joins, then the floor, on one service.
func joinAndFloor(ctx context.Context, env *benchEnv, engine string, n, concurrency int) (joinRow, joinRow, error) {
	// A short warm-up, so both rows start with open connections and
	// prepared statements.
	if _, err := loadCalls(ctx, 50, concurrency, func(i int) error {
		_, err := env.client.JoinCommunity(ctx, connect.NewRequest(joinRequest("warm", i, "demo")))
		return err
	}); err != nil {
		return joinRow{}, joinRow{}, fmt.Errorf("bench: warm-up join: %w", err)
	}
	res, err := loadJoin(ctx, env.client, n, concurrency)
	if err != nil {
		return joinRow{}, joinRow{}, err
	}
	if res.drain, err = env.waitDrained(ctx, res.end); err != nil {
		return joinRow{}, joinRow{}, err
	}
	if err := joinedAll(ctx, env, n); err != nil {
		return joinRow{}, joinRow{}, err
	}
	slices.Sort(res.latencies)
	accepted := joinRow{engine: engine, shape: "accepted", calls: n, rate: float64(n) / res.end.Sub(res.start).Seconds(),
		sorted: res.latencies, drain: res.drain, load: benchLoad()}
	floor, err := loadCalls(ctx, n, concurrency, func(i int) error {
		_, err := env.client.JoinCommunity(ctx, connect.NewRequest(joinRequest("floor", i, joinFloorCommunity)))
		if connect.CodeOf(err) != connect.CodePermissionDenied {
			return fmt.Errorf("a join to %q: %v, want PermissionDenied", joinFloorCommunity, err)
		}
		return nil
	})
	if err != nil {
		return joinRow{}, joinRow{}, fmt.Errorf("bench: floor: %w", err)
	}
	floor.engine, floor.shape, floor.load = engine, "floor: refused before the database", benchLoad()
	return accepted, floor, nil
}

// joinRequest is the join loadJoin sends, for community.
func joinRequest(prefix string, i int, community string) *membersv1.JoinCommunityRequest {
	return &membersv1.JoinCommunityRequest{Community: community, Email: fmt.Sprintf("%s-%d@example.org", prefix, i), DisplayName: "Bench Member",
		Interests: []string{"solar", "climate"}, EmailConsent: i%2 == 0}
}

// joinedAll checks that the community holds the n members loadJoin added
// (besides the warm-up's).
func joinedAll(ctx context.Context, env *benchEnv, n int) error {
	segments := membersv1connect.NewSegmentsServiceClient(env.http, env.base, connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(env.token))))
	res, err := segments.CountSegment(ctx, connect.NewRequest(&membersv1.CountSegmentRequest{Community: "demo", Filter: &membersv1.SegmentFilter{}}))
	if err != nil {
		return fmt.Errorf("bench: count members: %w", err)
	}
	if got, want := res.Msg.GetCount(), int64(n+50); got != want {
		return fmt.Errorf("bench: the community holds %d members after %d joins and 50 warm-ups, want %d", got, n, want)
	}
	return nil
}

// loadCalls makes n calls from concurrency clients back to back and
// returns the row of their latencies and rate; any failed call fails it.
func loadCalls(ctx context.Context, n, concurrency int, call func(i int) error) (joinRow, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var failures atomic.Int64
	var all []time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			local := make([]time.Duration, 0, n/concurrency+1)
			for i := int(next.Add(1)); i <= n && ctx.Err() == nil; i = int(next.Add(1)) {
				t0 := time.Now()
				if err := call(i); err != nil {
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
			all = append(all, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if f := failures.Load(); f > 0 {
		return joinRow{}, fmt.Errorf("%d of %d calls failed; first: %w", f, n, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return joinRow{}, err
	}
	slices.Sort(all)
	return joinRow{calls: n, rate: float64(n) / wall.Seconds(), sorted: all}, nil
}
