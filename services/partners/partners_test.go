package partners_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	_ "modernc.org/sqlite"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/services/partners"
	"github.com/kinshiphq/kinship/services/partners/events"
)

// fakeClock is the clock the service under test reads the day from.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to 10:00 UTC on day.
func (c *fakeClock) Set(day string) {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t.Add(10 * time.Hour)
}

// lockedBuffer collects the service's log records.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type service struct {
	url     string
	dbPath  string
	brokers []string
	issuer  *authtest.Issuer
	clock   *fakeClock
	logs    *lockedBuffer
	spans   *tracetest.SpanRecorder
	// membersURL and eventsURL are the fake members and events APIs, which
	// verify API keys (apiKey, an organiser's of demo) and know the
	// members and events of each community.
	membersURL, eventsURL string
	apiKey                string
	members, events       *directory
	// communicationsURL, when set, is where attention e-mails go.
	communicationsURL string
	stop              func()

	// The clients call as the demo organiser.
	partners      partnersv1connect.PartnersServiceClient
	contacts      partnersv1connect.ContactsServiceClient
	agreements    partnersv1connect.AgreementsServiceClient
	contributions partnersv1connect.ContributionsServiceClient
	reports       partnersv1connect.ReportsServiceClient
}

// start runs the service on a fresh database and broker, its clock on 15
// March 2026.
func start(t *testing.T, options ...func(*service)) *service {
	t.Helper()
	brokers := kafkatest.Start(t)
	if err := kafka.EnsureTopics(context.Background(), brokers, kafka.Security{}, kafka.Topic{Name: events.Topic("demo"), Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	s := &service{dbPath: filepath.Join(t.TempDir(), "partners.db"), brokers: brokers, issuer: authtest.Start(t), clock: &fakeClock{},
		logs: &lockedBuffer{}, spans: tracetest.NewSpanRecorder()}
	s.clock.Set("2026-03-15")
	s.neighbours(t)
	for _, o := range options {
		o(s)
	}
	s.run(t)
	organiser := authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser))
	s.partners = partnersv1connect.NewPartnersServiceClient(http.DefaultClient, s.url, organiser)
	s.contacts = partnersv1connect.NewContactsServiceClient(http.DefaultClient, s.url, organiser)
	s.agreements = partnersv1connect.NewAgreementsServiceClient(http.DefaultClient, s.url, organiser)
	s.contributions = partnersv1connect.NewContributionsServiceClient(http.DefaultClient, s.url, organiser)
	s.reports = partnersv1connect.NewReportsServiceClient(http.DefaultClient, s.url, organiser)
	return s
}

// run starts partners.Run over the service's database on a new port.
func (s *service) run(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	cfg := partners.Config{HTTPAddr: ln.Addr().String(), DatabaseURL: s.dbPath, KafkaBrokers: s.brokers, Communities: []string{"demo", "other"},
		Auth: s.issuer.Config(), MembersURL: s.membersURL, EventsURL: s.eventsURL, SweepEvery: time.Hour, CommunicationsURL: s.communicationsURL}
	go func() {
		done <- partners.Run(ctx, cfg, partners.Deps{Logger: logger, Tracer: tp, Listener: ln, Credentials: s.issuer.WorkloadTokens(), Now: s.clock.Now})
	}()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("partners.Run: %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	readyCtx, readyCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer readyCancel()
	if err := serve.WaitReady(readyCtx, s.url); err != nil {
		t.Fatal(err)
	}
}

// restart stops the service and runs it again over the same database.
func (s *service) restart(t *testing.T) {
	t.Helper()
	s.stop()
	s.run(t)
	organiser := authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser))
	s.partners = partnersv1connect.NewPartnersServiceClient(http.DefaultClient, s.url, organiser)
	s.agreements = partnersv1connect.NewAgreementsServiceClient(http.DefaultClient, s.url, organiser)
}

func (s *service) count(t *testing.T, table string) int {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+s.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// published reads every event on the demo topic, in order.
func (s *service) published(t *testing.T) []kafka.Event {
	t.Helper()
	conn, err := kafkago.DialLeader(context.Background(), "tcp", s.brokers[0], events.Topic("demo"), 0)
	if err != nil {
		t.Fatal(err)
	}
	last, err := conn.ReadLastOffset()
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	if last == 0 {
		return nil
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: s.brokers, Topic: events.Topic("demo"), Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	var out []kafka.Event
	for int64(len(out)) < last {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			t.Fatalf("read the topic: %v", err)
		}
		e, err := kafka.ParseEvent(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// waitPublished waits until the outbox is empty and returns the topic.
func (s *service) waitPublished(t *testing.T) []kafka.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := sql.Open("sqlite", "file:"+s.dbPath+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		var pending int
		err = d.QueryRow("SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&pending)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return s.published(t)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still pending", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func types(evs []kafka.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, strings.TrimPrefix(e.Type, "kinship.partners.v1."))
	}
	return out
}

func addPartner(t *testing.T, s *service, name string) *partnersv1.Partner {
	t.Helper()
	res, err := s.partners.AddPartner(context.Background(), connect.NewRequest(&partnersv1.AddPartnerRequest{Name: name,
		Kind: partnersv1.PartnerKind_PARTNER_KIND_SPONSOR, Website: "https://example.org", CountryCode: "de",
		Stakeholder: &partnersv1.Stakeholder{Influence: 5, Interest: 4, OwnerId: "organiser-1", NextReviewDate: "2026-04-01"}}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetPartner()
}

func TestAddPartnerPublishesPartnerAdded(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	p := addPartner(t, s, "Solar Co-op")
	if p.GetId() == "" || p.GetStatus() != partnersv1.PartnerStatus_PARTNER_STATUS_PROSPECT || p.GetCountryCode() != "DE" ||
		p.GetStakeholder().GetQuadrant() != partnersv1.Quadrant_QUADRANT_MANAGE_CLOSELY || p.GetCommunity() != "demo" {
		t.Errorf("added = %v", p)
	}
	got, err := s.partners.GetPartner(ctx, connect.NewRequest(&partnersv1.GetPartnerRequest{Id: p.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Msg.GetPartner().GetName() != "Solar Co-op" || len(got.Msg.GetHistory()) != 1 || got.Msg.GetHistory()[0].GetChangedBy() != "test-demo" {
		t.Errorf("GetPartner = %v", got.Msg)
	}
	evs := s.waitPublished(t)
	if !slices.Equal(types(evs), []string{"PartnerAdded"}) || evs[0].Key != p.GetId() || evs[0].Source != "/communities/demo/partners" {
		t.Errorf("published %v", evs)
	}
	_, err = s.partners.AddPartner(ctx, connect.NewRequest(&partnersv1.AddPartnerRequest{Name: "SOLAR CO-OP", Kind: partnersv1.PartnerKind_PARTNER_KIND_NGO}))
	if connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Errorf("the same name again: %v, want AlreadyExists", err)
	}
	_, err = s.partners.GetPartner(ctx, connect.NewRequest(&partnersv1.GetPartnerRequest{Id: "missing"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetPartner of a missing id = %v, want NotFound", err)
	}
}

func TestBadInputIsRefusedNamingTheFieldAndLeavesNoTrace(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	p := addPartner(t, s, "Solar Co-op")
	draft, err := s.agreements.CreateAgreement(ctx, connect.NewRequest(&partnersv1.CreateAgreementRequest{PartnerId: p.GetId(),
		Kind: partnersv1.AgreementKind_AGREEMENT_KIND_MOU, Title: "MoU", StartDate: "2026-01-01"}))
	if err != nil {
		t.Fatal(err)
	}
	eur := func(minor int64) *partnersv1.Money { return &partnersv1.Money{CurrencyCode: "EUR", AmountMinor: minor} }
	money := func(mutate func(*partnersv1.RecordContributionRequest)) error {
		req := &partnersv1.RecordContributionRequest{PartnerId: p.GetId(), Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_MONEY,
			Date: "2026-03-01", Value: eur(1000)}
		mutate(req)
		_, err := s.contributions.RecordContribution(ctx, connect.NewRequest(req))
		return err
	}
	agreement := func(mutate func(*partnersv1.CreateAgreementRequest)) error {
		req := &partnersv1.CreateAgreementRequest{PartnerId: p.GetId(), Kind: partnersv1.AgreementKind_AGREEMENT_KIND_SPONSORSHIP, Title: "2026",
			StartDate: "2026-01-01", EndDate: "2026-12-31", Value: eur(500000)}
		mutate(req)
		_, err := s.agreements.CreateAgreement(ctx, connect.NewRequest(req))
		return err
	}
	tests := []struct {
		name   string
		call   func() error
		fields []string
	}{
		{"negative amount", func() error { return money(func(r *partnersv1.RecordContributionRequest) { r.Value = eur(-100) }) }, []string{"value.amount_minor"}},
		{"unknown currency", func() error {
			return money(func(r *partnersv1.RecordContributionRequest) { r.Value.CurrencyCode = "EURO" })
		}, []string{"value.currency_code"}},
		{"contribution in the future", func() error { return money(func(r *partnersv1.RecordContributionRequest) { r.Date = "2026-03-16" }) }, []string{"date"}},
		{"contribution for another community's partner", func() error {
			return money(func(r *partnersv1.RecordContributionRequest) { r.PartnerId = "no-such-partner" })
		}, []string{"partner_id"}},
		{"end before start", func() error {
			return agreement(func(r *partnersv1.CreateAgreementRequest) { r.EndDate = "2025-12-31" })
		}, []string{"end_date"}},
		{"sponsorship without value", func() error { return agreement(func(r *partnersv1.CreateAgreementRequest) { r.Value = nil }) }, []string{"value"}},
		{"agreement with a malformed date", func() error {
			return agreement(func(r *partnersv1.CreateAgreementRequest) { r.StartDate = "1 January 2026" })
		}, []string{"start_date"}},
		{"influence outside 1 to 5", func() error {
			_, err := s.partners.AddPartner(ctx, connect.NewRequest(&partnersv1.AddPartnerRequest{Name: "Wind Co-op", Kind: partnersv1.PartnerKind_PARTNER_KIND_NGO,
				Stakeholder: &partnersv1.Stakeholder{Influence: 6, Interest: 3}}))
			return err
		}, []string{"stakeholder.influence"}},
		{"partner without kind", func() error {
			_, err := s.partners.AddPartner(ctx, connect.NewRequest(&partnersv1.AddPartnerRequest{Name: "Wind Co-op"}))
			return err
		}, []string{"kind"}},
		{"community not served here", func() error {
			admin := partnersv1connect.NewPartnersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Token(t,
				localissuer.Claims{Subject: "root", Roles: []string{"platform-admin"}})))
			_, err := admin.AddPartner(ctx, connect.NewRequest(&partnersv1.AddPartnerRequest{Community: "nowhere", Name: "X",
				Kind: partnersv1.PartnerKind_PARTNER_KIND_NGO}))
			return err
		}, []string{"community"}},
		{"status skipping the pipeline", func() error {
			_, err := s.partners.ChangePartnerStatus(ctx, connect.NewRequest(&partnersv1.ChangePartnerStatusRequest{Id: p.GetId(),
				Status: partnersv1.PartnerStatus_PARTNER_STATUS_ACTIVE}))
			return err
		}, []string{"status"}},
		{"status left out", func() error {
			_, err := s.partners.ChangePartnerStatus(ctx, connect.NewRequest(&partnersv1.ChangePartnerStatusRequest{Id: p.GetId()}))
			return err
		}, []string{"status"}},
		{"signing in the future", func() error {
			_, err := s.agreements.SignAgreement(ctx, connect.NewRequest(&partnersv1.SignAgreementRequest{Id: draft.Msg.GetAgreement().GetId(), SignedOn: "2027-01-01"}))
			return err
		}, []string{"signed_on"}},
		{"update mask naming nothing", func() error {
			_, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: p.GetId(), Partner: &partnersv1.Partner{Name: "X"}}))
			return err
		}, []string{"update_mask"}},
		{"interaction without participants", func() error {
			_, err := s.partners.LogInteraction(ctx, connect.NewRequest(&partnersv1.LogInteractionRequest{PartnerId: p.GetId(),
				Kind: partnersv1.InteractionKind_INTERACTION_KIND_CALL, OccurredAt: nil}))
			return err
		}, []string{"occurred_at", "organiser_ids"}},
		{"contact with a bad e-mail", func() error {
			_, err := s.contacts.AddContact(ctx, connect.NewRequest(&partnersv1.AddContactRequest{PartnerId: p.GetId(), Name: "Ada", Email: "ada-at-example"}))
			return err
		}, []string{"email"}},
		{"consent without a source", func() error {
			_, err := s.contacts.AddContact(ctx, connect.NewRequest(&partnersv1.AddContactRequest{PartnerId: p.GetId(), Name: "Ada", EmailConsent: true,
				PolicyVersion: "v1"}))
			return err
		}, []string{"consent_source"}},
		{"report without kind", func() error {
			stream, err := s.reports.ExportReport(ctx, connect.NewRequest(&partnersv1.ExportReportRequest{}))
			if err != nil {
				return err
			}
			for stream.Receive() {
			}
			return stream.Err()
		}, []string{"report"}},
		{"totals without grouping", func() error {
			_, err := s.reports.ContributionTotals(ctx, connect.NewRequest(&partnersv1.ContributionTotalsRequest{}))
			return err
		}, []string{"group_by"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error = %v, want InvalidArgument", err)
			}
			if fields := rpc.FieldViolations(err); !slices.Equal(fields, tt.fields) {
				t.Errorf("field violations = %v, want %v", fields, tt.fields)
			}
			for _, f := range tt.fields {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("message %q does not name %s", err.Error(), f)
				}
			}
		})
	}
	_, err = s.partners.AddPartner(ctx, connect.NewRequest(&partnersv1.AddPartnerRequest{Community: "elsewhere", Name: "X", Kind: partnersv1.PartnerKind_PARTNER_KIND_NGO}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("another community: %v, want PermissionDenied", err)
	}

	time.Sleep(200 * time.Millisecond) // give a wrongly appended event time to be relayed
	for table, want := range map[string]int{"partners": 1, "partner_status_history": 1, "agreements": 1, "contributions": 0, "contacts": 0,
		"interactions": 0, "outbox": 1} {
		if n := s.count(t, table); n != want {
			t.Errorf("%s rows = %d, want %d", table, n, want)
		}
	}
	if got := types(s.published(t)); !slices.Equal(got, []string{"PartnerAdded"}) {
		t.Errorf("published %v, want only the setup's PartnerAdded", got)
	}
}

func TestListPartnersPagesAndFilters(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	var want []string
	for i := range 5 {
		want = append(want, addPartner(t, s, fmt.Sprintf("Partner %d", i)).GetId())
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		res, err := s.partners.ListPartners(ctx, connect.NewRequest(&partnersv1.ListPartnersRequest{PageSize: 2, PageToken: token}))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Msg.GetPartners() {
			got = append(got, p.GetId())
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged = %v, want %v", got, want)
	}
	active, err := s.partners.ListPartners(ctx, connect.NewRequest(&partnersv1.ListPartnersRequest{Statuses: []partnersv1.PartnerStatus{partnersv1.PartnerStatus_PARTNER_STATUS_ACTIVE}}))
	if err != nil || len(active.Msg.GetPartners()) != 0 {
		t.Errorf("active partners = %v, %v", active, err)
	}
	for name, req := range map[string]*partnersv1.ListPartnersRequest{
		"forged token":   {PageToken: "bm90LWEtdG9rZW4"},
		"negative size":  {PageSize: -1},
		"unknown status": {Statuses: []partnersv1.PartnerStatus{42}},
	} {
		if _, err := s.partners.ListPartners(ctx, connect.NewRequest(req)); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}
