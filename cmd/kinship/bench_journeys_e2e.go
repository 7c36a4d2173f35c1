//go:build !nodev

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// benchJourneysE2E carries n joins end to end on the embedded stack — the
// members API commits the member and MemberJoined, the worker's trigger
// starts the onboarding journey, its welcome activity asks the
// communications service, which renders and sends the e-mail to the
// stack's SMTP sink — against the ceiling of the same embedded Temporal in
// the same run: trivial one-activity workflows carried as fast, from their
// start to their activity's run. Every member must get exactly one e-mail.
func benchJourneysE2E(ctx context.Context, n int, logger *slog.Logger) (string, error) {
	stack, err := startEmbeddedStack(ctx, "e2e", logger)
	if err != nil {
		return "", err
	}
	defer stack.close()
	ep, tc := stack.ep, stack.tc
	// The seeded members' journeys and e-mails go first.
	if err := benchSettle(ctx, ep.Kafka); err != nil {
		return "", err
	}
	time.Sleep(2 * time.Second)

	logger.Info("e2e: the ceiling, trivial one-activity workflows", "workflows", n)
	ceilingStart := time.Now()
	ceiling, err := benchCeiling(ctx, tc, n)
	if err != nil {
		return "", err
	}
	ceilingLoad := benchLoad()
	ceilingDone := time.Since(ceilingStart)
	ceilingRate := float64(n) / ceiling.carried.Seconds()

	logger.Info("e2e: joins carried to their welcome e-mail", "joins", n)
	members := membersv1connect.NewMembersServiceClient(rpc.HTTPClient(0), ep.Members, organiserBearer(ep))
	sent := make([]time.Time, n)
	ids := make([]string, n)
	var mu sync.Mutex
	start := time.Now()
	_, err = loadCalls(ctx, n, benchStartConcurrency, func(i int) error {
		t0 := time.Now()
		res, err := members.JoinCommunity(ctx, connect.NewRequest(joinRequest("e2e", i, "demo")))
		if err != nil {
			return err
		}
		mu.Lock()
		sent[i-1], ids[i-1] = t0, res.Msg.GetMember().GetId()
		mu.Unlock()
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("bench: e2e join: %w", err)
	}
	joined := time.Since(start)
	received, err := waitWelcomes(ctx, ep.Mail, n, 10*time.Minute)
	if err != nil {
		return "", err
	}
	e2eLoad := benchLoad()
	var last time.Time
	latencies, toStart, toMail := make([]time.Duration, n), make([]time.Duration, n), make([]time.Duration, n)
	for i := range n {
		at := received[fmt.Sprintf("e2e-%d@example.org", i+1)]
		latencies[i] = at.Sub(sent[i])
		if at.After(last) {
			last = at
		}
		// Where the time went: until the trigger started the journey,
		// and from there to the e-mail.
		desc, err := tc.DescribeWorkflowExecution(ctx, onboarding.WorkflowID("demo", ids[i]), "")
		if err != nil {
			return "", fmt.Errorf("bench: the journey of member %d: %w", i+1, err)
		}
		started := desc.GetWorkflowExecutionInfo().GetStartTime().AsTime()
		toStart[i], toMail[i] = started.Sub(sent[i]), at.Sub(started)
	}
	slices.Sort(latencies)
	slices.Sort(toStart)
	slices.Sort(toMail)
	took := last.Sub(start)
	rate := float64(n) / took.Seconds()

	var b strings.Builder
	benchHeader(&b, "Joins carried end to end: API to welcome e-mail", fmt.Sprintf("kinship bench e2e -e2e-joins %d", n), start)
	fmt.Fprintf(&b, "Target: joins carried from the API to the welcome e-mail at the sink ≥ 0.8 × the ceiling — trivial one-activity "+
		"workflows carried as fast on the same embedded Temporal (SQLite, WAL) in the same run: %d started at a time by a client, run "+
		"by a worker with the dev worker's options; the ceiling is workflows over the time from the first start to the last "+
		"workflow's activity run, as the path is joins over the time from the first join to the last e-mail. The embedded stack (`kinship dev` in a temporary folder, in this "+
		"process) takes %d joins from %d clients as the team adds members (organiser token: the address counts as confirmed, so "+
		"the journey welcomes at once). Each join commits the member and MemberJoined; the outbox relays it; the worker's trigger "+
		"starts the member's onboarding journey; its welcome step asks the communications service, which renders, records and "+
		"sends the e-mail to the stack's SMTP sink (its sending limit, 50 a second per community by default, lifted). Carried/s is joins over the time from the first join sent to the last e-mail "+
		"received; latency is each member's, from their join sent to their e-mail received, split below at the journey's start "+
		"(Temporal's start time of the member's workflow). Checked: every member got exactly one "+
		"e-mail, 2 s after the last arrived. \"All accepted\" is when the last start (ceiling) or join was accepted; \"carried\" "+
		"when the last activity ran (ceiling) or e-mail arrived; \"all done\" when the ceiling's last workflow finished (polled each "+
		"second). Load is the one-minute load average after the row.\n\n", benchStartConcurrency, n, benchStartConcurrency)
	fmt.Fprintf(&b, "| path | workflows | carried/s | × ceiling | all accepted after | carried after | all done after | join → e-mail p50 | p99 | max | load |\n")
	fmt.Fprintf(&b, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(&b, "| Temporal client: trivial one-activity workflows carried to their activity (ceiling) | %d | %.1f | 1.00 | %.1f s | %.1f s | %.1f s | – | – | – | %s |\n",
		n, ceilingRate, ceiling.took.Seconds(), ceiling.carried.Seconds(), ceilingDone.Seconds(), ceilingLoad)
	fmt.Fprintf(&b, "| joins carried to their welcome e-mail | %d | %.1f | %s | %.1f s | %.1f s | – | %s | %s | %s | %s |\n\n",
		n, rate, ratio(rate, ceilingRate), joined.Seconds(), took.Seconds(), ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.99)),
		ms(latencies[n-1]), e2eLoad)
	fmt.Fprintf(&b, "| part of the way | p50 | p99 | max |\n| --- | ---: | ---: | ---: |\n")
	fmt.Fprintf(&b, "| join sent → journey started (API, outbox, broker, trigger) | %s | %s | %s |\n", ms(percentile(toStart, 0.5)), ms(percentile(toStart, 0.99)), ms(toStart[n-1]))
	fmt.Fprintf(&b, "| journey started → e-mail received (workflow, activity, communications, SMTP) | %s | %s | %s |\n\n", ms(percentile(toMail, 0.5)), ms(percentile(toMail, 0.99)), ms(toMail[n-1]))
	return b.String(), nil
}

// waitWelcomes polls the sink until each of the n members e2e-1 … e2e-n
// has an e-mail, then checks 2 s later that none got a second one, and
// returns when each arrived.
func waitWelcomes(ctx context.Context, mailURL string, n int, within time.Duration) (map[string]time.Time, error) {
	want := map[string]bool{}
	for i := range n {
		want[fmt.Sprintf("e2e-%d@example.org", i+1)] = true
	}
	read := func() (map[string][]time.Time, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, mailURL+"/api/messages", nil)
		if err != nil {
			return nil, err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var msgs []smtpsink.Message
		if err := json.NewDecoder(res.Body).Decode(&msgs); err != nil {
			return nil, err
		}
		got := map[string][]time.Time{}
		for _, m := range msgs {
			for _, to := range m.To {
				if to = strings.ToLower(to); want[to] {
					got[to] = append(got[to], m.ReceivedAt)
				}
			}
		}
		return got, nil
	}
	deadline := time.Now().Add(within)
	for {
		got, err := read()
		if err != nil {
			return nil, fmt.Errorf("bench: read the sink: %w", err)
		}
		if len(got) == n {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bench: %d of %d members got their welcome e-mail within %s", len(got), n, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	got, err := read()
	if err != nil {
		return nil, fmt.Errorf("bench: read the sink: %w", err)
	}
	out := map[string]time.Time{}
	for to, times := range got {
		if len(times) != 1 {
			return nil, fmt.Errorf("bench: %s got %d e-mails, want exactly one", to, len(times))
		}
		out[to] = times[0]
	}
	return out, nil
}
