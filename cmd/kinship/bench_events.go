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
	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
	eventsservice "github.com/kinshiphq/kinship/services/events"
	eventevents "github.com/kinshiphq/kinship/services/events/events"
)

// benchRSVP measures bursts of 1,000 RSVPs for a 500-seat occurrence
// against their floor — the same burst refused after authentication and
// before the database — on SQLite and, when installed, PostgreSQL, with
// group commit on (the default) and off, and checks every round's result:
// exactly 500 seats, and the waitlist in the order the answers were taken.
func benchRSVP(ctx context.Context, rounds int, logger *slog.Logger) (string, error) {
	const requests, seats = 1000, 500
	dir, err := os.MkdirTemp("", "kinship-bench-rsvp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	broker, err := devbroker.New(0, kfake.NumBrokers(1), kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
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
	engines, stopEngines, err := benchEngines(ctx)
	if err != nil {
		return "", err
	}
	defer stopEngines()

	var b strings.Builder
	benchHeader(&b, "RSVP burst against its floor", fmt.Sprintf("kinship bench rsvp -rounds %d", rounds), time.Now())
	fmt.Fprintf(&b, "Target: the p99 of %d simultaneous RSVPs to one occurrence within 1.5 × the floor's p99, measured in the same run. "+
		"The floor is the same burst of %d RSVPs, each member with their own token never seen before (so each token's signature "+
		"is checked, as in the burst), refused after authentication and before the database (no answer given). The row \"one "+
		"token for all\" is the floor as first recorded, until 2026-12-07: the organiser's token on every request, verified once and "+
		"then taken from the verifier's cache, so it leaves out the signature checks the burst pays. "+
		"Each round publishes an event with %d seats and sends %d RSVPs (Connect over HTTP/1.1, one connection per client), each member "+
		"answering for themselves with their own token. Group commit on (the default) answers the RSVPs for one occurrence that "+
		"arrive together in one transaction (up to 512), each with its own outbox events and audit entry; off gives every RSVP a "+
		"transaction of its own, as before. The two run as two services side by side, and the rounds of the floor, on and off take "+
		"turns. Every round checks that exactly %d got a seat, each with its own check-in code, and that the waitlist positions "+
		"run 1..%d in the order the answers were taken, every seat answered before the first waitlist place. "+
		"\"16 clients\" sends the same %d from 16 clients back to back. %s\n\n",
		requests, requests, seats, requests, seats, requests-seats, requests, benchPostgresNote)
	fmt.Fprintf(&b, "| database | shape | RSVPs | RSVPs/s | p50 | p90 | p99 | max | p99 ÷ floor p99 | load |\n"+
		"| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	var verdicts []string
	for _, engine := range engines {
		verdict, err := rsvpEngine(ctx, &b, engine, dir, brokers, issuer, organiser, rounds, requests, seats, logger)
		if err != nil {
			return "", err
		}
		verdicts = append(verdicts, verdict)
	}
	fmt.Fprintf(&b, "\n%s\n\n", strings.Join(verdicts, " "))
	return b.String(), nil
}

// rsvpService is an events service the RSVP benchmark sends to.
type rsvpService struct {
	events     eventsv1connect.EventsServiceClient
	attendance eventsv1connect.AttendanceServiceClient // members' own tokens
	floor      eventsv1connect.AttendanceServiceClient // members' own tokens, its own connections
	refused    eventsv1connect.AttendanceServiceClient // the organiser's token
	stop       func()
}

// startRSVPService starts an events service on databaseURL with batch as
// its RSVPBatch.
func startRSVPService(ctx context.Context, databaseURL string, batch int, brokers []string, issuer *localissuer.Issuer, organiser string, logger *slog.Logger) (*rsvpService, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tel, err := telemetry.New(ctx, telemetry.Config{Version: version})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	svcCtx, stopSvc := context.WithCancel(ctx)
	svcDone := make(chan error, 1)
	go func() {
		svcDone <- eventsservice.Run(svcCtx, eventsservice.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: databaseURL, RSVPBatch: batch,
			KafkaBrokers: brokers, Communities: []string{"demo"}, Auth: auth.TokenConfig{Issuer: issuer.URL(), Audience: "kinship"},
			MembersURL: "http://127.0.0.1:1"}, // API keys are not used here
			eventsservice.Deps{Logger: slog.New(slog.DiscardHandler), Tracer: tel.TracerProvider("kinship-events"), Listener: ln,
				Credentials: auth.StaticToken(organiser)})
	}()
	stop := func() {
		stopSvc()
		if err := <-svcDone; err != nil {
			logger.Warn("events service stopped with an error", "error", err)
		}
	}
	base := "http://" + ln.Addr().String()
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := serve.WaitReady(readyCtx, base); err != nil {
		stop()
		return nil, fmt.Errorf("bench: %w", err)
	}
	bearer := connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(organiser)))
	client := func() *http.Client {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = 1000
		return &http.Client{Transport: transport}
	}
	return &rsvpService{events: eventsv1connect.NewEventsServiceClient(http.DefaultClient, base, bearer),
		attendance: eventsv1connect.NewAttendanceServiceClient(client(), base),
		floor:      eventsv1connect.NewAttendanceServiceClient(client(), base),
		refused:    eventsv1connect.NewAttendanceServiceClient(client(), base, bearer), stop: stop}, nil
}

// rsvpEngine runs the RSVP rounds on one engine and writes its rows; it
// returns whether the target was met there.
func rsvpEngine(ctx context.Context, b *strings.Builder, engine benchEngine, dir string, brokers []string, issuer *localissuer.Issuer,
	organiser string, rounds, requests, seats int, logger *slog.Logger) (string, error) {
	var svcs [2]*rsvpService // group commit on, off
	for i, batch := range []int{0, 1} {
		url, err := engine.url(ctx, dir, fmt.Sprintf("events_%d", i))
		if err != nil {
			return "", err
		}
		if svcs[i], err = startRSVPService(ctx, url, batch, brokers, issuer, organiser, logger); err != nil {
			return "", err
		}
		defer svcs[i].stop()
	}
	type shape struct {
		took []time.Duration
		wall time.Duration
		load string
	}
	var floor, oneToken, on, off, clients16 shape
	add := func(s *shape, took []time.Duration, wall time.Duration) {
		s.took, s.wall, s.load = append(s.took, took...), s.wall+wall, benchLoad()
	}
	round := func(svc *rsvpService, prefix string, clients int) ([]time.Duration, time.Duration, error) {
		occ, eventID, err := rsvpEvent(ctx, svc.events, seats)
		if err != nil {
			return nil, 0, err
		}
		tokens, err := memberTokens(issuer, prefix, requests)
		if err != nil {
			return nil, 0, err
		}
		lat, elapsed, answers, err := rsvpRound(ctx, svc.attendance, eventID, occ, tokens, clients)
		if err != nil {
			return nil, 0, err
		}
		if err := checkRSVPs(answers, seats); err != nil {
			return nil, 0, fmt.Errorf("bench: %s, round %s: %w", engine.name, prefix, err)
		}
		return lat, elapsed, nil
	}
	floorOcc, floorEvent, err := rsvpEvent(ctx, svcs[0].events, seats)
	if err != nil {
		return "", err
	}
	for r := range rounds {
		// The floor: the same burst, each member with their own token
		// (verified, as none was seen before), for a real occurrence,
		// refused for its missing answer before any database work.
		tokens, err := memberTokens(issuer, fmt.Sprintf("floor-%d", r), requests)
		if err != nil {
			return "", err
		}
		lat, elapsed, err := burst(requests, requests, func(i int) error {
			req := connect.NewRequest(&eventsv1.RSVPRequest{Community: "demo", EventId: floorEvent, OccurrenceId: floorOcc})
			req.Header().Set("Authorization", "Bearer "+tokens[i])
			_, err := svcs[0].floor.RSVP(ctx, req)
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				return fmt.Errorf("an RSVP without an answer: %v, want InvalidArgument", err)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("bench: %w", err)
		}
		add(&floor, lat, elapsed)
		// For reference, the floor as first recorded: one organiser token
		// for all, verified once and then taken from the verifier's cache.
		lat, elapsed, err = burst(requests, requests, func(int) error {
			_, err := svcs[0].refused.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{Community: "demo", EventId: floorEvent,
				Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				return fmt.Errorf("an RSVP without a member id: %v, want InvalidArgument", err)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("bench: %w", err)
		}
		add(&oneToken, lat, elapsed)
		if lat, elapsed, err = round(svcs[0], fmt.Sprintf("on-%d", r), requests); err != nil {
			return "", err
		}
		add(&on, lat, elapsed)
		if lat, elapsed, err = round(svcs[1], fmt.Sprintf("off-%d", r), requests); err != nil {
			return "", err
		}
		add(&off, lat, elapsed)
	}
	for r := range rounds {
		lat, elapsed, err := round(svcs[0], fmt.Sprintf("c16-%d", r), 16)
		if err != nil {
			return "", err
		}
		add(&clients16, lat, elapsed)
	}
	for _, s := range []*shape{&floor, &oneToken, &on, &off, &clients16} {
		slices.Sort(s.took)
	}
	floorP99 := percentile(floor.took, 0.99)
	row := func(name string, s shape) {
		fmt.Fprintf(b, "| %s | %s | %d | %.0f | %s | %s | %s | %s | %.2f | %s |\n", engine.name, name, len(s.took), float64(len(s.took))/s.wall.Seconds(),
			ms(percentile(s.took, 0.5)), ms(percentile(s.took, 0.9)), ms(percentile(s.took, 0.99)), ms(s.took[len(s.took)-1]),
			float64(percentile(s.took, 0.99))/float64(floorP99), s.load)
	}
	row("floor: refused before the database, all at once", floor)
	row("refused before the database, one token for all (verified once)", oneToken)
	row("all at once, group commit", on)
	row("all at once, a transaction per RSVP", off)
	row("16 clients, group commit", clients16)
	x := float64(percentile(on.took, 0.99)) / float64(floorP99)
	verdict := "met"
	if x > 1.5 {
		verdict = "not met"
	}
	return fmt.Sprintf("%s: %.2f × the floor, target %s.", engine.name, x, verdict), nil
}

// rsvpEvent publishes an event with seats and returns its occurrence and
// its id.
func rsvpEvent(ctx context.Context, events eventsv1connect.EventsServiceClient, seats int) (string, string, error) {
	at := time.Now().UTC().Truncate(time.Hour).Add(7 * 24 * time.Hour)
	created, err := events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: &eventsv1.EventSpec{
		Title: "Repair café", Kind: eventsv1.EventKind_EVENT_KIND_OFFLINE, TimeZone: "Europe/Berlin", Capacity: int32(seats),
		Venue:     &eventsv1.Venue{Name: "Hall", Street: "Main St 1", City: "Berlin", CountryCode: "DE"},
		StartTime: timestamppb.New(at), EndTime: timestamppb.New(at.Add(2 * time.Hour)), Visibility: eventsv1.Visibility_VISIBILITY_PUBLIC,
	}}))
	if err != nil {
		return "", "", fmt.Errorf("bench: create event: %w", err)
	}
	pub, err := events.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: "demo", Id: created.Msg.GetEvent().GetId()}))
	if err != nil {
		return "", "", fmt.Errorf("bench: publish event: %w", err)
	}
	e := pub.Msg.GetEvent()
	return e.GetOccurrences()[0].GetId(), e.GetId(), nil
}

// checkRSVPs checks the answers of one round: exactly seats got a seat,
// each with its own code; the rest are waitlisted at 1..n without gaps,
// in the order the answers were taken, after every seat.
func checkRSVPs(answers []*eventsv1.RSVP, seats int) error {
	var going, waiting []*eventsv1.RSVP
	codes := map[string]bool{}
	for _, r := range answers {
		switch r.GetStatus() {
		case eventsv1.RSVPStatus_RSVP_STATUS_GOING:
			if r.GetCheckInCode() == "" || codes[r.GetCheckInCode()] {
				return fmt.Errorf("seat of %s has check-in code %q (missing or held twice)", r.GetMemberId(), r.GetCheckInCode())
			}
			codes[r.GetCheckInCode()] = true
			going = append(going, r)
		case eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED:
			waiting = append(waiting, r)
		default:
			return fmt.Errorf("RSVP of %s is %s", r.GetMemberId(), r.GetStatus())
		}
	}
	if len(going) != seats || len(waiting) != len(answers)-seats {
		return fmt.Errorf("%d of %d RSVPs got a seat and %d were waitlisted, want %d and %d", len(going), len(answers), len(waiting), seats, len(answers)-seats)
	}
	slices.SortFunc(waiting, func(a, b *eventsv1.RSVP) int { return int(a.GetWaitlistPosition() - b.GetWaitlistPosition()) })
	lastSeat := slices.MaxFunc(going, func(a, b *eventsv1.RSVP) int { return a.GetAnsweredAt().AsTime().Compare(b.GetAnsweredAt().AsTime()) })
	prev := lastSeat.GetAnsweredAt().AsTime()
	for i, r := range waiting {
		if int(r.GetWaitlistPosition()) != i+1 {
			return fmt.Errorf("waitlist position %d at place %d, want 1..%d without gaps", r.GetWaitlistPosition(), i+1, len(waiting))
		}
		if at := r.GetAnsweredAt().AsTime(); at.Before(prev) {
			return fmt.Errorf("waitlist position %d answered at %s, before the answer ahead of it (%s)", i+1, at, prev)
		}
		prev = r.GetAnsweredAt().AsTime()
	}
	return nil
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
// wall time and the RSVPs answered.
func rsvpRound(ctx context.Context, c eventsv1connect.AttendanceServiceClient, eventID, occurrenceID string, tokens []string, clients int) ([]time.Duration, time.Duration, []*eventsv1.RSVP, error) {
	answers := make([]*eventsv1.RSVP, len(tokens))
	took, wall, err := burst(len(tokens), clients, func(i int) error {
		req := connect.NewRequest(&eventsv1.RSVPRequest{Community: "demo", EventId: eventID, OccurrenceId: occurrenceID,
			Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING})
		req.Header().Set("Authorization", "Bearer "+tokens[i])
		res, err := c.RSVP(ctx, req)
		if err != nil {
			return fmt.Errorf("bench: RSVP %d: %w", i, err)
		}
		if len(res.Msg.GetRsvps()) != 1 {
			return fmt.Errorf("bench: RSVP %d answered %d RSVPs, want 1", i, len(res.Msg.GetRsvps()))
		}
		answers[i] = res.Msg.GetRsvps()[0]
		return nil
	})
	return took, wall, answers, err
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
