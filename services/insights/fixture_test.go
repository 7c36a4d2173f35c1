package insights_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/services/insights"
	w "github.com/kinshiphq/kinship/services/insights/demo"
	"github.com/kinshiphq/kinship/services/insights/events"
	"github.com/kinshiphq/kinship/services/insights/insightstest"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
)

// service is the insights service as deployed — over HTTP, consuming the
// in-process broker — with fake neighbours: a members service that
// verifies one organiser API key of demo, a communications service that
// records what it is asked to send, and each service's history of world.
type service struct {
	url     string
	brokers []string
	issuer  *authtest.Issuer
	apiKey  string
	comms   *fakeComms
	// journeys is the worker's journeys API: the ambassador nominations.
	journeys *fakeJourneys
	world    *w.World
	metrics  *metric.ManualReader
	logs     *bytes.Buffer

	insights insightsv1connect.InsightsServiceClient
	goals    insightsv1connect.GoalsServiceClient
	audit    auditv1connect.AuditServiceClient
}

// start runs the service on a fresh database and broker, its clock at
// today, the neighbours' histories those of world.
func start(t *testing.T, world *w.World) *service {
	t.Helper()
	s := &service{brokers: kafkatest.Start(t), issuer: authtest.Start(t), comms: &fakeComms{sent: map[string]*communicationsv1.SendMessageRequest{}},
		world: world, metrics: metric.NewManualReader(), logs: &bytes.Buffer{}}
	var topics []kafka.Topic
	for _, c := range []string{"demo", "other"} {
		for _, tp := range events.Topics(c) {
			topics = append(topics, kafka.Topic{Name: tp, Partitions: 2, ReplicationFactor: 1}, kafka.Topic{Name: kafka.DeadLetterTopic(tp), Partitions: 1, ReplicationFactor: 1})
		}
	}
	if err := kafka.EnsureTopics(context.Background(), s.brokers, kafka.Security{}, topics...); err != nil {
		t.Fatal(err)
	}
	key, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	s.apiKey = key.Plain
	histories := world.History()
	neighbour := func(handlers ...func(*http.ServeMux)) string {
		mux := http.NewServeMux()
		for _, h := range handlers {
			h(mux)
		}
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	history := func(name string) func(*http.ServeMux) {
		return func(mux *http.ServeMux) {
			mux.Handle(insightsv1connect.NewHistoryServiceHandler(&insightstest.Histories{Records: histories[name]}))
		}
	}
	membersURL := neighbour(history("members"), func(mux *http.ServeMux) {
		mux.Handle(membersv1connect.NewAccessServiceHandler(fakeAccess{key: s.apiKey}))
	})
	commsURL := neighbour(history("communications"), func(mux *http.ServeMux) {
		mux.Handle(communicationsv1connect.NewTemplatesServiceHandler(s.comms))
		mux.Handle(communicationsv1connect.NewCommunicationsServiceHandler(s.comms))
	})
	// The worker's journeys API, guarded by its own policy: the service
	// reads the scenario's nominations with its workload token.
	s.journeys = &fakeJourneys{nominations: map[string][]*journeysv1.Nomination{"demo": knownNominations()}}
	verifier, err := auth.NewTokenVerifier(s.issuer.Config(), http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	journeysGuard := auth.NewInterceptor(auth.Options{Tokens: verifier, Policy: journeysapi.Policy(), Logger: slog.New(slog.DiscardHandler)})
	journeysURL := neighbour(func(mux *http.ServeMux) {
		mux.Handle(journeysv1connect.NewJourneysServiceHandler(s.journeys, connect.WithInterceptors(journeysGuard)))
	})
	cfg := insights.Config{JourneysURL: journeysURL, DatabaseURL: t.TempDir() + "/insights.db", KafkaBrokers: s.brokers, Communities: []string{"demo", "other"},
		Auth: s.issuer.Config(), MembersURL: membersURL, EventsURL: neighbour(history("events")), CommunicationsURL: commsURL,
		PartnersURL: neighbour(history("partners")), AmbassadorQuotas: []string{"hosted_event:1"}, ReportSchedule: "off", // reports only when a test asks
		GaugeEvery: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPAddr, s.url = ln.Addr().String(), "http://"+ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &lockedWriter{w: s.logs}
	go func() {
		done <- insights.Run(ctx, cfg, insights.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Tracer: sdktrace.NewTracerProvider(),
			Meter: metric.NewMeterProvider(metric.WithReader(s.metrics)), Listener: ln, Credentials: s.issuer.WorkloadTokens(),
			Now: func() time.Time { return today }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("insights.Run: %v", err)
		}
	})
	readyCtx, readyCancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer readyCancel()
	if err := serve.WaitReady(readyCtx, s.url); err != nil {
		t.Fatal(err)
	}
	organiser := authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser))
	s.insights = insightsv1connect.NewInsightsServiceClient(http.DefaultClient, s.url, organiser)
	s.goals = insightsv1connect.NewGoalsServiceClient(http.DefaultClient, s.url, organiser)
	s.audit = auditv1connect.NewAuditServiceClient(http.DefaultClient, s.url, organiser)
	return s
}

// publish writes events to the broker.
func (s *service) publish(t *testing.T, evs []kafka.Event) {
	t.Helper()
	wr := kafka.NewWriter(kafka.WriterConfig{Brokers: s.brokers})
	defer wr.Close()
	for i := 0; i < len(evs); i += 200 {
		var batch []kafka.Event
		batch = append(batch, evs[i:min(i+200, len(evs))]...)
		msgs := make([]kafkago.Message, 0, len(batch))
		for _, e := range batch {
			msgs = append(msgs, e.Message())
		}
		if err := wr.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
}

// rebuild fills the service from its neighbours' histories.
func (s *service) rebuild(t *testing.T) *insightsv1.RebuildResponse {
	t.Helper()
	res, err := rebuild(context.Background(), s.insights)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// rebuild calls Rebuild and returns its last message.
func rebuild(ctx context.Context, c insightsv1connect.InsightsServiceClient) (*insightsv1.RebuildResponse, error) {
	stream, err := c.Rebuild(ctx, connect.NewRequest(&insightsv1.RebuildRequest{Community: "demo"}))
	if err != nil {
		return nil, err
	}
	var last *insightsv1.RebuildResponse
	for stream.Receive() {
		last = stream.Msg()
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	if !last.GetDone() {
		return nil, fmt.Errorf("the rebuild ended without its result")
	}
	return last, nil
}

// weekly answers a metric's total by week over the known history's weeks.
func (s *service) weekly(t *testing.T, metric string) []float64 {
	t.Helper()
	res, err := s.insights.QueryMetric(context.Background(), connect.NewRequest(&insightsv1.QueryMetricRequest{Community: "demo", Metric: metric,
		FromDate: firstWeek, ToDate: lastDay, Granularity: insightsv1.Granularity_GRANULARITY_WEEK}))
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, p := range res.Msg.GetSeries()[0].GetPoints() {
		out = append(out, p.GetValue())
	}
	return out
}

// fakeAccess stands in for the members service's AccessService.
type fakeAccess struct {
	membersv1connect.UnimplementedAccessServiceHandler
	key string
}

func (f fakeAccess) VerifyAPIKey(_ context.Context, req *connect.Request[membersv1.VerifyAPIKeyRequest]) (*connect.Response[membersv1.VerifyAPIKeyResponse], error) {
	if req.Msg.GetKey() != f.key {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown key"))
	}
	return connect.NewResponse(&membersv1.VerifyAPIKeyResponse{KeyId: "key-1", Community: "demo", Roles: []string{"organiser"}}), nil
}

// fakeComms stands in for the communications service: it keeps templates
// and records each message by idempotency key, as the real one sends once
// per key.
type fakeComms struct {
	communicationsv1connect.UnimplementedTemplatesServiceHandler
	communicationsv1connect.UnimplementedCommunicationsServiceHandler
	mu        sync.Mutex
	templates map[string]*communicationsv1.SaveTemplateRequest
	sent      map[string]*communicationsv1.SendMessageRequest
	calls     int
}

func (f *fakeComms) GetTemplate(_ context.Context, req *connect.Request[communicationsv1.GetTemplateRequest]) (*connect.Response[communicationsv1.GetTemplateResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.templates[req.Msg.GetCommunity()+"/"+req.Msg.GetName()]; !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no template"))
	}
	return connect.NewResponse(&communicationsv1.GetTemplateResponse{}), nil
}

func (f *fakeComms) SaveTemplate(_ context.Context, req *connect.Request[communicationsv1.SaveTemplateRequest]) (*connect.Response[communicationsv1.SaveTemplateResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.templates == nil {
		f.templates = map[string]*communicationsv1.SaveTemplateRequest{}
	}
	f.templates[req.Msg.GetCommunity()+"/"+req.Msg.GetName()] = req.Msg
	return connect.NewResponse(&communicationsv1.SaveTemplateResponse{}), nil
}

func (f *fakeComms) SendMessage(_ context.Context, req *connect.Request[communicationsv1.SendMessageRequest]) (*connect.Response[communicationsv1.SendMessageResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if _, ok := f.sent[req.Msg.GetIdempotencyKey()]; !ok {
		f.sent[req.Msg.GetIdempotencyKey()] = req.Msg
	}
	return connect.NewResponse(&communicationsv1.SendMessageResponse{}), nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
