//go:build !nodev

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/types/known/timestamppb"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/devbroker"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/services/insights"
	"github.com/kinshiphq/kinship/services/insights/domain"
	insightsevents "github.com/kinshiphq/kinship/services/insights/events"
)

// insightsBench sizes the insights benchmark.
type insightsBench struct {
	members, activities, joinRate int
	joinFor                       time.Duration
	repeats                       int
}

// benchInsights runs the insights service on the embedded defaults
// (SQLite, the in-process broker), rebuilds a year of a community —
// members, their activity ledger, events, messages, partners — from
// services' histories served over HTTP, asks every metric for a year by
// week and the cohort table, and measures how far the projection lags
// behind joins published at a steady rate.
func benchInsights(ctx context.Context, b insightsBench, logger *slog.Logger) (string, error) {
	env, err := startInsightsBench(ctx, b, logger)
	if err != nil {
		return "", err
	}
	defer env.stop()
	var out strings.Builder
	start := time.Now()
	benchHeader(&out, "Insights on SQLite", fmt.Sprintf("kinship bench insights -insights-members %d -activities %d -join-rate %d", b.members, b.activities, b.joinRate), start)
	fmt.Fprintf(&out, "Machine: %s; commit %s. The service, the broker, the four history servers and the load share the machine.\n\n", cpuModel(), commit())

	// Rebuild.
	t0 := time.Now()
	res, err := env.rebuild(ctx)
	if err != nil {
		return "", err
	}
	took := time.Since(t0)
	var read int64
	for _, c := range res.GetCounts() {
		read += c.GetRecords()
	}
	fmt.Fprintf(&out, "**Rebuild** — target: the history of %d members and %d activities in < 60 s.\n\n", b.members, b.activities)
	out.WriteString("| records read | of them activities | took | records/s | met |\n| ---: | ---: | ---: | ---: | :---: |\n")
	fmt.Fprintf(&out, "| %d | %d | %.1f s | %.0f | %s |\n\n", read, b.activities, took.Seconds(), float64(read)/took.Seconds(), yes(took < time.Minute))

	// Queries.
	lat, err := env.queries(ctx, b.repeats)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&out, "**Queries** — target: any metric for a year by week, and the cohort table, in < 100 ms p95; %d calls each over HTTP.\n\n", b.repeats)
	out.WriteString("| query | p50 | p95 | max | met |\n| --- | ---: | ---: | ---: | :---: |\n")
	var worst time.Duration
	for _, q := range lat {
		slices.Sort(q.d)
		p95 := percentile(q.d, 0.95)
		worst = max(worst, p95)
		fmt.Fprintf(&out, "| %s | %s | %s | %s | %s |\n", q.name, ms(percentile(q.d, 0.5)), ms(p95), ms(q.d[len(q.d)-1]), yes(p95 < 100*time.Millisecond))
	}
	fmt.Fprintf(&out, "\nWorst p95: %s.\n\n", ms(worst))

	// Lag.
	lags, sent, wall, err := env.lag(ctx, b.joinRate, b.joinFor)
	if err != nil {
		return "", err
	}
	slices.Sort(lags)
	fmt.Fprintf(&out, "**Projection lag** — target: keeps up with joins published at %d/s, lag < 2 s. Lag is measured each second, from publishing the second's last join to the API counting it.\n\n", b.joinRate)
	out.WriteString("| joins | published/s | lag p50 | lag p95 | lag max | met |\n| ---: | ---: | ---: | ---: | ---: | :---: |\n")
	fmt.Fprintf(&out, "| %d | %.0f | %s | %s | %s | %s |\n\n", sent, float64(sent)/wall.Seconds(), ms(percentile(lags, 0.5)), ms(percentile(lags, 0.95)),
		ms(lags[len(lags)-1]), yes(lags[len(lags)-1] < 2*time.Second))
	return out.String(), nil
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// cpuModel names the machine's processor.
func cpuModel() string {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v) + fmt.Sprintf(" (%d CPUs)", runtime.NumCPU())
		}
	}
	return fmt.Sprintf("%d CPUs", runtime.NumCPU())
}

// commit is the revision the binary was built from, marked when the tree
// had changes.
func commit() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+changes"
				}
			}
		}
		if rev != "" {
			return rev[:min(12, len(rev))] + dirty
		}
	}
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		rev += "+changes"
	}
	return rev
}

type insightsEnv struct {
	brokers []string
	url     string
	client  insightsv1connect.InsightsServiceClient
	now     time.Time
	cleanup []func()
}

func (e *insightsEnv) stop() {
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		e.cleanup[i]()
	}
}

func startInsightsBench(ctx context.Context, b insightsBench, logger *slog.Logger) (*insightsEnv, error) {
	env := &insightsEnv{now: time.Now().UTC()}
	fail := func(err error) (*insightsEnv, error) {
		env.stop()
		return nil, fmt.Errorf("bench insights: %w", err)
	}
	dir, err := os.MkdirTemp("", "kinship-bench-insights-")
	if err != nil {
		return nil, err
	}
	env.cleanup = append(env.cleanup, func() { _ = os.RemoveAll(dir) })
	broker, err := devbroker.New(0, kfake.NumBrokers(1), kfake.DefaultNumPartitions(4), kfake.AllowAutoTopicCreation())
	if err != nil {
		return fail(err)
	}
	env.cleanup = append(env.cleanup, broker.Close)
	env.brokers = broker.ListenAddrs()
	var topics []kafka.Topic
	for _, t := range insightsevents.Topics("demo") {
		topics = append(topics, kafka.Topic{Name: t, Partitions: 4, ReplicationFactor: 1}, kafka.Topic{Name: kafka.DeadLetterTopic(t), Partitions: 1, ReplicationFactor: 1})
	}
	if err := kafka.EnsureTopics(ctx, env.brokers, kafka.Security{}, topics...); err != nil {
		return fail(err)
	}
	issuerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	issuer, err := localissuer.New("http://"+issuerLn.Addr().String(), "")
	if err != nil {
		return fail(err)
	}
	issuerSrv := &http.Server{Handler: issuer.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = issuerSrv.Serve(issuerLn) }()
	env.cleanup = append(env.cleanup, func() { _ = issuerSrv.Close() })
	token, err := issuer.Mint(localissuer.Claims{Subject: "bench", Audience: "kinship", Community: "demo", Roles: []string{"organiser"}, TTL: 2 * time.Hour})
	if err != nil {
		return fail(err)
	}
	hist := newBenchHistory(b, env.now)
	urls := map[string]string{}
	for _, name := range []string{"members", "events", "communications", "partners"} {
		_, h := insightsv1connect.NewHistoryServiceHandler(&benchHistorySource{name: name, h: hist})
		srv := httptest.NewServer(h)
		env.cleanup = append(env.cleanup, srv.Close)
		urls[name] = srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	tel, err := telemetry.New(ctx, telemetry.Config{Version: version})
	if err != nil {
		return fail(err)
	}
	env.url = "http://" + ln.Addr().String()
	svcCtx, stopSvc := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- insights.Run(svcCtx, insights.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: filepath.Join(dir, "insights.db"), KafkaBrokers: env.brokers,
			Communities: []string{"demo"}, Auth: auth.TokenConfig{Issuer: issuer.URL(), Audience: "kinship", WorkloadSubjects: []string{"kinship-insights"}, WorkloadAudience: "kinship-workload"},
			MembersURL: urls["members"], EventsURL: urls["events"], CommunicationsURL: urls["communications"], PartnersURL: urls["partners"],
			ReportSchedule: "off", GaugeEvery: time.Hour},
			insights.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-insights"), Listener: ln,
				Credentials: issuer.TokenSource(localissuer.Claims{Subject: "kinship-insights", Audience: "kinship-workload", TTL: time.Hour})})
	}()
	env.cleanup = append(env.cleanup, func() {
		stopSvc()
		if err := <-done; err != nil {
			logger.Warn("insights service stopped with an error", "error", err)
		}
	})
	readyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := serve.WaitReady(readyCtx, env.url); err != nil {
		return fail(err)
	}
	env.client = insightsv1connect.NewInsightsServiceClient(rpc.HTTPClient(0), env.url, connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(token))))
	return env, nil
}

func (e *insightsEnv) rebuild(ctx context.Context) (*insightsv1.RebuildResponse, error) {
	stream, err := e.client.Rebuild(ctx, connect.NewRequest(&insightsv1.RebuildRequest{Community: "demo"}))
	if err != nil {
		return nil, fmt.Errorf("bench insights: rebuild: %w", err)
	}
	var last *insightsv1.RebuildResponse
	for stream.Receive() {
		last = stream.Msg()
	}
	if err := stream.Err(); err != nil {
		return nil, fmt.Errorf("bench insights: rebuild: %w", err)
	}
	if !last.GetDone() {
		return nil, errors.New("bench insights: the rebuild gave no result")
	}
	return last, nil
}

type latencies struct {
	name string
	d    []time.Duration
}

// queries asks every metric for the last year by week, and the cohort
// table of the year, repeats times each.
func (e *insightsEnv) queries(ctx context.Context, repeats int) ([]latencies, error) {
	from, to := e.now.AddDate(0, 0, -364).Format(time.DateOnly), e.now.Format(time.DateOnly)
	var out []latencies
	for _, m := range domain.Catalogue() {
		l := latencies{name: "`" + m.Name + "`"}
		for range repeats {
			t0 := time.Now()
			if _, err := e.client.QueryMetric(ctx, connect.NewRequest(&insightsv1.QueryMetricRequest{Community: "demo", Metric: m.Name, FromDate: from, ToDate: to,
				Granularity: insightsv1.Granularity_GRANULARITY_WEEK})); err != nil {
				return nil, fmt.Errorf("bench insights: %s: %w", m.Name, err)
			}
			l.d = append(l.d, time.Since(t0))
		}
		out = append(out, l)
	}
	l := latencies{name: "cohort table, 52 weeks"}
	for range repeats {
		t0 := time.Now()
		if _, err := e.client.GetCohorts(ctx, connect.NewRequest(&insightsv1.GetCohortsRequest{Community: "demo", FromDate: from, ToDate: to})); err != nil {
			return nil, fmt.Errorf("bench insights: cohorts: %w", err)
		}
		l.d = append(l.d, time.Since(t0))
	}
	return append(out, l), nil
}

// newcomersToday is how many joins the API counts today.
func (e *insightsEnv) newcomersToday(ctx context.Context) (float64, error) {
	day := e.now.Format(time.DateOnly)
	res, err := e.client.QueryMetric(ctx, connect.NewRequest(&insightsv1.QueryMetricRequest{Community: "demo", Metric: "members.newcomers",
		FromDate: day, ToDate: day, Granularity: insightsv1.Granularity_GRANULARITY_DAY}))
	if err != nil {
		return 0, err
	}
	return res.Msg.GetSeries()[0].GetPoints()[0].GetValue(), nil
}

// lag publishes MemberJoined at rate a second for d and returns, for each
// second's last join, how long until the API counted it.
func (e *insightsEnv) lag(ctx context.Context, rate int, d time.Duration) ([]time.Duration, int, time.Duration, error) {
	base, err := e.newcomersToday(ctx)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("bench insights: %w", err)
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: e.brokers, BatchSize: 1000})
	defer w.Close()
	type mark struct {
		count int
		at    time.Time
	}
	var mu sync.Mutex
	var marks []mark
	sent := 0
	pubErr := make(chan error, 1)
	start := time.Now()
	go func() {
		// Publish as many as the rate asks by now, in one write each time.
		for time.Since(start) < d {
			n := min(int(float64(rate)*time.Since(start).Seconds())-sent, 2000)
			if n <= 0 {
				time.Sleep(2 * time.Millisecond)
				continue
			}
			msgs := make([]kafkago.Message, 0, n)
			for range n {
				id := fmt.Sprintf("join-%07d", sent+len(msgs))
				now := time.Now()
				ev, err := kafka.NewProto(kafka.Event{Type: "kinship.members.v1.MemberJoined", Source: "/communities/demo/members", Subject: id, Time: now,
					Topic: "demo.members.v1", Key: id}, &membersv1.MemberJoined{MemberId: id, Community: "demo", JoinedAt: timestamppb.New(now)})
				if err != nil {
					pubErr <- err
					return
				}
				msgs = append(msgs, ev.Message())
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				pubErr <- err
				return
			}
			sent += len(msgs)
			mu.Lock()
			for sent >= (len(marks)+1)*rate {
				marks = append(marks, mark{count: (len(marks) + 1) * rate, at: time.Now()})
			}
			mu.Unlock()
		}
		pubErr <- nil
	}()
	var lags []time.Duration
	next := 0
	deadline := start.Add(d + time.Minute)
	published, pubEnd := false, time.Time{}
	for time.Now().Before(deadline) {
		select {
		case err := <-pubErr:
			if err != nil {
				return nil, 0, 0, fmt.Errorf("bench insights: publish: %w", err)
			}
			published, pubEnd = true, time.Now()
		default:
		}
		n, err := e.newcomersToday(ctx)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("bench insights: %w", err)
		}
		seen := time.Now()
		mu.Lock()
		for next < len(marks) && int(n-base) >= marks[next].count {
			lags = append(lags, seen.Sub(marks[next].at))
			next++
		}
		all := published && next == len(marks)
		mu.Unlock()
		if all {
			return lags, sent, pubEnd.Sub(start), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, 0, 0, fmt.Errorf("bench insights: %d of %d marks counted a minute after publishing ended", next, len(marks))
}

// benchHistory generates a year of one community's history on the fly,
// the same for the same sizes.
type benchHistory struct {
	b   insightsBench
	now time.Time
}

func newBenchHistory(b insightsBench, now time.Time) *benchHistory {
	return &benchHistory{b: b, now: now}
}

func (h *benchHistory) joined(i int) time.Time {
	return h.now.Add(-time.Duration(float64(365*24*time.Hour) * float64(h.b.members-i) / float64(h.b.members)))
}

// records calls send with the source's records in batches.
func (h *benchHistory) records(source string, send func([]*insightsv1.HistoryRecord) error) error {
	rng := rand.New(rand.NewPCG(uint64(len(source)), 7))
	var batch []*insightsv1.HistoryRecord
	add := func(r *insightsv1.HistoryRecord) error {
		batch = append(batch, r)
		if len(batch) == 1000 {
			err := send(batch)
			batch = nil
			return err
		}
		return nil
	}
	ts := timestamppb.New
	year := h.now.AddDate(-1, 0, 0)
	member := func(i int) string { return fmt.Sprintf("m%07d", i) }
	var err error
	switch source {
	case "members":
		for i := 0; i < h.b.members && err == nil; i++ {
			f := &insightsv1.MemberFact{MemberId: member(i), JoinedAt: ts(h.joined(i)), Status: insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_MEMBER,
				Level: []string{"Observer", "Participant", "Contributor", "Core"}[rng.IntN(4)], CountryCode: []string{"DE", "FR", "NL"}[rng.IntN(3)],
				Interests: []string{[]string{"solar", "bikes", "trees"}[rng.IntN(3)]}, ProfileComplete: rng.IntN(3) > 0}
			if rng.IntN(12) == 0 {
				f.Status, f.LeftAt = insightsv1.MemberStatusFact_MEMBER_STATUS_FACT_LEFT, ts(h.joined(i).Add(time.Duration(rng.Int64N(int64(h.now.Sub(h.joined(i)))))))
			}
			err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Member{Member: f}})
		}
		types := []string{"rsvp", "attended_event", "posted", "completed_task", "referred_member", "hosted_event"}
		per := h.b.activities / h.b.members
		n := 0
		for i := 0; i < h.b.members && err == nil; i++ {
			k := per
			if i < h.b.activities%h.b.members {
				k++
			}
			span := int64(h.now.Sub(h.joined(i)))
			for j := 0; j < k && err == nil; j++ {
				n++
				err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Activity{Activity: &insightsv1.ActivityFact{ActivityId: fmt.Sprintf("a%08d", n),
					MemberId: member(i), Type: types[rng.IntN(len(types))], OccurredAt: ts(h.joined(i).Add(time.Duration(rng.Int64N(span + 1))))}}})
			}
		}
		for i := 0; i < 200 && err == nil; i++ {
			err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Role{Role: &insightsv1.RoleFact{MemberId: member(rng.IntN(h.b.members)),
				Role: "ambassador", Tier: []string{"bronze", "silver", "gold"}[rng.IntN(3)], AssignedAt: ts(year.AddDate(0, 0, rng.IntN(365)))}}})
		}
	case "events":
		for w := 0; w < 104 && err == nil; w++ {
			start := year.AddDate(0, 0, w*7/2+1).Add(18 * time.Hour)
			occ := fmt.Sprintf("o%03d", w)
			err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Occurrence{Occurrence: &insightsv1.OccurrenceFact{EventId: fmt.Sprintf("e%03d", w/2),
				OccurrenceId: occ, StartTime: ts(start), EndTime: ts(start.Add(2 * time.Hour)), Cancelled: w%25 == 0}}})
			for j := 0; j < 150 && err == nil; j++ {
				a := &insightsv1.AttendanceFact{EventId: fmt.Sprintf("e%03d", w/2), OccurrenceId: occ, MemberId: member(rng.IntN(h.b.members)),
					Status: insightsv1.AttendanceStatus_ATTENDANCE_STATUS_GOING, UpdatedAt: ts(start.Add(-24 * time.Hour)), Waitlisted: rng.IntN(10) == 0}
				switch r := rng.IntN(10); {
				case r < 7:
					a.Status, a.CheckedInAt = insightsv1.AttendanceStatus_ATTENDANCE_STATUS_CHECKED_IN, ts(start)
					if rng.IntN(2) == 0 {
						a.Rating, a.RatedAt = int32(1+rng.IntN(5)), ts(start.Add(24*time.Hour))
					}
				case r < 9:
					a.Status = insightsv1.AttendanceStatus_ATTENDANCE_STATUS_NO_SHOW
				}
				err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Attendance{Attendance: a}})
			}
		}
	case "communications":
		for i := 0; i < h.b.members && err == nil; i++ {
			err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Message{Message: &insightsv1.MessageFact{MessageId: fmt.Sprintf("w%07d", i),
				MemberId: member(i), Channel: "email", State: insightsv1.MessageStateFact_MESSAGE_STATE_FACT_SENT, SentAt: ts(h.joined(i).Add(time.Minute)),
				IdempotencyKey: "onboarding/demo/" + member(i) + "/welcome"}}})
		}
		for i := 0; i < 2000 && err == nil; i++ {
			err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Unsubscribe{Unsubscribe: &insightsv1.UnsubscribeFact{MemberId: member(rng.IntN(h.b.members)),
				Purpose: "email.announcements", OccurredAt: ts(year.AddDate(0, 0, rng.IntN(365)))}}})
		}
	case "partners":
		for p := 0; p < 30 && err == nil; p++ {
			id := fmt.Sprintf("p%02d", p)
			added := year.AddDate(0, 0, p*10)
			err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Partner{Partner: &insightsv1.PartnerFact{PartnerId: id, AddedAt: ts(added)}}})
			if err == nil {
				err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_PartnerMove{PartnerMove: &insightsv1.PartnerMoveFact{PartnerId: id, ToStage: "active",
					ChangedAt: ts(added.AddDate(0, 0, 20))}}})
			}
			for c := 0; c < 20 && err == nil; c++ {
				err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Contribution{Contribution: &insightsv1.ContributionFact{
					ContributionId: fmt.Sprintf("c%02d-%02d", p, c), PartnerId: id, Kind: "money", Date: added.AddDate(0, 0, c*5).Format(time.DateOnly),
					CurrencyCode: "EUR", AmountMinor: int64(1000 * (1 + rng.IntN(50)))}}})
			}
			if err == nil {
				s := added.AddDate(0, 0, 20)
				err = add(&insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Agreement{Agreement: &insightsv1.AgreementFact{AgreementId: "ag" + id,
					PartnerId: id, StartDate: s.Format(time.DateOnly), EndDate: s.AddDate(0, 0, 300).Format(time.DateOnly), SignedOn: s.Format(time.DateOnly)}}})
			}
		}
	}
	if err == nil && len(batch) > 0 {
		err = send(batch)
	}
	return err
}

// benchHistorySource serves one service's part of the history.
type benchHistorySource struct {
	insightsv1connect.UnimplementedHistoryServiceHandler
	name string
	h    *benchHistory
}

func (s *benchHistorySource) ReadHistory(_ context.Context, _ *connect.Request[insightsv1.ReadHistoryRequest], stream *connect.ServerStream[insightsv1.ReadHistoryResponse]) error {
	return s.h.records(s.name, func(records []*insightsv1.HistoryRecord) error {
		return stream.Send(&insightsv1.ReadHistoryResponse{Records: records})
	})
}
