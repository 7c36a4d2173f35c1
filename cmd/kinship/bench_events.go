//go:build !nodev

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
	eventsservice "github.com/kinshiphq/kinship/services/events"
	eventevents "github.com/kinshiphq/kinship/services/events/events"
)

// benchRSVP sends 1,000 RSVPs for a 500-seat event to the events service
// on SQLite over HTTP, in two shapes — all at once, and from 16 clients —
// checks that exactly 500 got a seat, and reports the latencies.
func benchRSVP(ctx context.Context, rounds int, logger *slog.Logger) (string, error) {
	const requests, seats = 1000, 500
	dir, err := os.MkdirTemp("", "kinship-bench-rsvp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
	if err != nil {
		return "", fmt.Errorf("bench: start broker: %w", err)
	}
	defer broker.Close()
	brokers := broker.ListenAddrs()
	if err := kafka.EnsureTopics(ctx, brokers, kafka.Security{}, kafka.Topic{Name: eventevents.Topic("demo"), Partitions: 4, ReplicationFactor: 1},
		kafka.Topic{Name: "demo.members.v1", Partitions: 4, ReplicationFactor: 1}); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	issuerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	issuer, err := localissuer.New("http://"+issuerLn.Addr().String(), "")
	if err != nil {
		return "", err
	}
	issuerSrv := &http.Server{Handler: issuer.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = issuerSrv.Serve(issuerLn) }()
	defer issuerSrv.Close()
	organiser, err := issuer.Mint(localissuer.Claims{Subject: "bench", Audience: "kinship", Community: "demo", Roles: []string{"organiser"}, TTL: time.Hour})
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	tel, err := telemetry.New(ctx, telemetry.Config{Version: version})
	if err != nil {
		return "", err
	}
	svcCtx, stopSvc := context.WithCancel(ctx)
	svcDone := make(chan error, 1)
	go func() {
		svcDone <- eventsservice.Run(svcCtx, eventsservice.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: filepath.Join(dir, "events.db"),
			KafkaBrokers: brokers, Communities: []string{"demo"}, Auth: auth.TokenConfig{Issuer: issuer.URL(), Audience: "kinship"},
			MembersURL: "http://127.0.0.1:1"}, // API keys are not used here
			eventsservice.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: tel.TracerProvider("kinship-events"), Listener: ln,
				Credentials: auth.StaticToken(organiser)})
	}()
	defer func() {
		stopSvc()
		if err := <-svcDone; err != nil {
			logger.Warn("events service stopped with an error", "error", err)
		}
	}()
	base := "http://" + ln.Addr().String()
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := serve.WaitReady(readyCtx, base); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	bearer := connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(organiser)))
	events := eventsv1connect.NewEventsServiceClient(http.DefaultClient, base, bearer)

	var b strings.Builder
	start := time.Now()
	benchHeader(&b, "RSVP on SQLite", fmt.Sprintf("kinship bench rsvp -rounds %d", rounds), start)
	fmt.Fprintf(&b, "Target: p99 < 50 ms at 1,000 concurrent RSVPs. Each round publishes an event with %d seats and sends %d RSVPs (Connect over "+
		"HTTP/1.1, one connection per client), each member answering for themselves with their own token; every round checks that exactly %d got a seat and the rest joined the waitlist. \"All at once\" "+
		"releases all %d requests together; \"16 clients\" sends the same %d from 16 clients back to back. The floor releases %d RSVPs "+
		"without a member id together: the service authenticates each and refuses it before the database.\n\n", seats, requests, seats, requests, requests, requests)
	var lastEvent string
	fmt.Fprintf(&b, "| shape | RSVPs | RSVPs/s | p50 | p90 | p99 | max |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, clients := range []int{requests, 16} {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = clients
		// Members answer for themselves: each request carries its member's token.
		attendance := eventsv1connect.NewAttendanceServiceClient(&http.Client{Transport: transport}, base)
		var took []time.Duration
		var wall time.Duration
		for round := range rounds {
			at := time.Now().UTC().Truncate(time.Hour).Add(7 * 24 * time.Hour)
			created, err := events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: &eventsv1.EventSpec{
				Title: "Repair café", Kind: eventsv1.EventKind_EVENT_KIND_OFFLINE, TimeZone: "Europe/Berlin", Capacity: seats,
				Venue:     &eventsv1.Venue{Name: "Hall", Street: "Main St 1", City: "Berlin", CountryCode: "DE"},
				StartTime: timestamppb.New(at), EndTime: timestamppb.New(at.Add(2 * time.Hour)), Visibility: eventsv1.Visibility_VISIBILITY_PUBLIC,
			}}))
			if err != nil {
				return "", fmt.Errorf("bench: create event: %w", err)
			}
			pub, err := events.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: "demo", Id: created.Msg.GetEvent().GetId()}))
			if err != nil {
				return "", fmt.Errorf("bench: publish event: %w", err)
			}
			e := pub.Msg.GetEvent()
			lastEvent = e.GetId()
			tokens, err := memberTokens(issuer, fmt.Sprintf("m-%d-%d", clients, round), requests)
			if err != nil {
				return "", err
			}
			lat, elapsed, going, err := rsvpRound(ctx, attendance, e.GetId(), e.GetOccurrences()[0].GetId(), tokens, clients)
			if err != nil {
				return "", err
			}
			if going != seats {
				return "", fmt.Errorf("bench: %d of %d RSVPs got a seat, want %d", going, requests, seats)
			}
			took, wall = append(took, lat...), wall+elapsed
		}
		slices.Sort(took)
		shape := fmt.Sprintf("%d clients", clients)
		if clients == requests {
			shape = "all at once"
		}
		latencyRow(&b, shape, took, wall)
	}
	// The floor: the same burst of RSVPs without a member id, which the
	// service refuses after authentication and before the database. What
	// it takes is what any RSVP on this machine takes at least.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = requests
	refused := eventsv1connect.NewAttendanceServiceClient(&http.Client{Transport: transport}, base, bearer)
	var took []time.Duration
	var wall time.Duration
	for range rounds {
		lat, elapsed, err := burst(requests, requests, func(int) error {
			_, err := refused.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{Community: "demo", EventId: lastEvent, Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				return fmt.Errorf("an RSVP without a member id: %v, want InvalidArgument", err)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("bench: %w", err)
		}
		took, wall = append(took, lat...), wall+elapsed
	}
	slices.Sort(took)
	latencyRow(&b, "floor: refused before the database, all at once", took, wall)
	b.WriteString("\n")
	return b.String(), nil
}

// latencyRow writes a row of the latency table: calls, calls per second
// and percentiles of sorted latencies.
func latencyRow(b *strings.Builder, shape string, sorted []time.Duration, wall time.Duration) {
	fmt.Fprintf(b, "| %s | %d | %.0f | %s | %s | %s | %s |\n", shape, len(sorted), float64(len(sorted))/wall.Seconds(),
		ms(percentile(sorted, 0.5)), ms(percentile(sorted, 0.9)), ms(percentile(sorted, 0.99)), ms(sorted[len(sorted)-1]))
}

// memberTokens mints a token for each of n members of demo named
// prefix-0, prefix-1, ...
func memberTokens(issuer *localissuer.Issuer, prefix string, n int) ([]string, error) {
	tokens := make([]string, n)
	for i := range tokens {
		id := fmt.Sprintf("%s-%d", prefix, i)
		tok, err := issuer.Mint(localissuer.Claims{Subject: "bench-" + id, Audience: "kinship", Community: "demo", Roles: []string{"member"},
			MemberID: id, TTL: time.Hour})
		if err != nil {
			return nil, fmt.Errorf("bench: token of %s: %w", id, err)
		}
		tokens[i] = tok
	}
	return tokens, nil
}

// rsvpRound sends one RSVP per token from clients goroutines, each member
// answering for themselves, and returns each one's latency, the round's
// wall time and how many got a seat.
func rsvpRound(ctx context.Context, c eventsv1connect.AttendanceServiceClient, eventID, occurrenceID string, tokens []string, clients int) ([]time.Duration, time.Duration, int, error) {
	var going atomic.Int64
	took, wall, err := burst(len(tokens), clients, func(i int) error {
		req := connect.NewRequest(&eventsv1.RSVPRequest{Community: "demo", EventId: eventID, OccurrenceId: occurrenceID,
			Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING})
		req.Header().Set("Authorization", "Bearer "+tokens[i])
		res, err := c.RSVP(ctx, req)
		if err == nil && res.Msg.GetRsvps()[0].GetStatus() == eventsv1.RSVPStatus_RSVP_STATUS_GOING {
			going.Add(1)
		}
		if err != nil {
			return fmt.Errorf("bench: RSVP %d: %w", i, err)
		}
		return nil
	})
	return took, wall, int(going.Load()), err
}

// burst makes n calls from clients goroutines, released together, and
// returns each call's latency and the wall time of them all.
func burst(n, clients int, call func(i int) error) ([]time.Duration, time.Duration, error) {
	took := make([]time.Duration, n)
	errs := make([]error, n)
	var next atomic.Int64
	var ready, done sync.WaitGroup
	ready.Add(1)
	for range clients {
		done.Go(func() {
			ready.Wait()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				t0 := time.Now()
				errs[i] = call(i)
				took[i] = time.Since(t0)
			}
		})
	}
	t0 := time.Now()
	ready.Done()
	done.Wait()
	wall := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	return took, wall, nil
}
