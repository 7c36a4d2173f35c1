// Package insights is the insights service, the read side of Kinship: it
// consumes every domain topic of the communities it serves (members.v1,
// events.v1, communications.v1, partners.v1) into facts keyed by what
// they are about and per-community daily series in the community's time
// zone, in its own database. Run serves the metrics, cohorts, funnels and
// goals (InsightsService, GoalsService) and its audit log, exports the
// metrics as OpenTelemetry gauges, sends the weekly health report and
// rebuilds from the other services' histories on request. The ambassador
// programme's nominations, which no event tells of, it reads from the
// worker's journeys API.
package insights

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/gen/openapi"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/insights/api"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/events"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// Config configures the insights service.
type Config struct {
	// HTTPAddr is where the API listens, such as ":8087".
	HTTPAddr string
	// DatabaseURL is a postgres:// URL or a SQLite file path.
	DatabaseURL  string
	KafkaBrokers []string
	// KafkaSecurity protects every Kafka connection (TLS, SASL); zero
	// means plaintext.
	KafkaSecurity kafka.Security
	// Communities are the community slugs this instance serves.
	Communities []string
	// Auth says which bearer tokens to trust.
	Auth auth.TokenConfig
	// TimeZones are the communities' time zones, which days, weeks and
	// months follow: "Europe/Berlin" for every community, or
	// "demo=Europe/Berlin" for one; empty means UTC. Changing one
	// recomputes that community's series at the next start.
	TimeZones []string
	// MembersURL, EventsURL, CommunicationsURL and PartnersURL are the
	// services' APIs: their histories rebuild the facts, the members
	// service verifies API keys, and the communications service sends the
	// health report. A rebuild needs all four.
	MembersURL, EventsURL, CommunicationsURL, PartnersURL string
	// JourneysURL is the worker's journeys API, whose ambassador
	// nominations are counted: read every NominationsEvery and by every
	// rebuild. Empty counts no nominations.
	JourneysURL string
	// NominationsEvery is how often the nominations are read; 0 means 15
	// minutes.
	NominationsEvery time.Duration
	// ReportSchedule is the weekly health report's slot in each
	// community's time zone, such as "mon 08:00" (the default), or "off".
	ReportSchedule string
	// AmbassadorQuotas are the ambassador programme's quotas, such as
	// "hosted_event:1"; empty means the programme's defaults.
	AmbassadorQuotas []string
	// SeriesDays is how many days back series are answered; 0 means 1096.
	SeriesDays int
	// GaugeEvery is how often the OpenTelemetry gauges are computed; 0
	// means one minute.
	GaugeEvery time.Duration
	// InboxKeep is how long handled event ids are remembered; 0 means 30
	// days (longer than the topics keep records).
	InboxKeep       time.Duration
	ShutdownTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.ReportSchedule == "" {
		c.ReportSchedule = "mon 08:00"
	}
	if c.SeriesDays == 0 {
		c.SeriesDays = 1096
	}
	if c.GaugeEvery == 0 {
		c.GaugeEvery = time.Minute
	}
	if c.InboxKeep == 0 {
		c.InboxKeep = 30 * 24 * time.Hour
	}
	if c.NominationsEvery == 0 {
		c.NominationsEvery = 15 * time.Minute
	}
	return c
}

// Validate reports every missing or malformed setting.
func (c Config) Validate() error {
	c = c.withDefaults()
	errs := service.Common{Name: "insights", HTTPAddr: c.HTTPAddr, DatabaseURL: c.DatabaseURL, KafkaBrokers: c.KafkaBrokers,
		Communities: c.Communities, Auth: c.Auth}.Check()
	for what, u := range map[string]string{"members url": c.MembersURL, "events url": c.EventsURL, "communications url": c.CommunicationsURL, "partners url": c.PartnersURL,
		"journeys url": c.JourneysURL} {
		if u != "" {
			if err := service.CheckHTTPURL("insights", what, u); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := c.zones(); err != nil {
		errs = append(errs, fmt.Errorf("insights: %w", err))
	}
	if _, err := domain.ParseSchedule(c.ReportSchedule); err != nil {
		errs = append(errs, fmt.Errorf("insights: %w", err))
	}
	if _, err := c.quotas(); err != nil {
		errs = append(errs, fmt.Errorf("insights: %w", err))
	}
	if c.SeriesDays < 28 || c.SeriesDays > 3660 {
		errs = append(errs, fmt.Errorf("insights: series days %d must be between 28 and 3660", c.SeriesDays))
	}
	if c.GaugeEvery < time.Second || c.InboxKeep < time.Hour {
		errs = append(errs, errors.New("insights: the gauge interval must be at least 1s and the inbox kept at least 1h"))
	}
	if c.NominationsEvery < time.Second {
		errs = append(errs, errors.New("insights: the nominations must be read at most once a second"))
	}
	return errors.Join(errs...)
}

// zones are the communities' time zones.
func (c Config) zones() (map[string]*time.Location, error) {
	out := map[string]*time.Location{}
	def := time.UTC
	named := map[string]*time.Location{}
	for _, item := range c.TimeZones {
		community, zone, scoped := strings.Cut(strings.TrimSpace(item), "=")
		if !scoped {
			zone = community
		}
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "" || strings.EqualFold(zone, "local") {
			return nil, fmt.Errorf("time zone %q is not an IANA zone such as Europe/Berlin", zone)
		}
		if scoped {
			named[community] = loc
		} else {
			def = loc
		}
	}
	for _, community := range c.Communities {
		out[community] = def
		if loc, ok := named[community]; ok {
			out[community] = loc
			delete(named, community)
		}
	}
	for community := range named {
		return nil, fmt.Errorf("time zone given for %q, which is not served here", community)
	}
	return out, nil
}

func (c Config) quotas() ([]domain.Quota, error) {
	if len(c.AmbassadorQuotas) == 0 {
		return domain.DefaultQuotas(), nil
	}
	return domain.ParseQuotas(c.AmbassadorQuotas)
}

// Deps are what Run is given rather than builds.
type Deps struct {
	Logger *slog.Logger
	Tracer trace.TracerProvider
	// Meter is optional; nil exports no gauges.
	Meter metric.MeterProvider
	// Listener, when set, is served instead of listening on HTTPAddr.
	Listener net.Listener
	// Credentials are this service's workload tokens, for the other
	// services' APIs; required with any of their URLs.
	Credentials auth.TokenSource
	// Now is the clock; nil means time.Now. Tests pass a fake one.
	Now func() time.Time
	// ExtraHistories are read by every rebuild besides the services'
	// own: the dev stack's synthetic demo history.
	ExtraHistories []api.HistorySource
}

// Run serves the insights APIs, consumes the communities' topics and runs
// the periodic work until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if deps.Credentials == nil && (cfg.MembersURL != "" || cfg.EventsURL != "" || cfg.CommunicationsURL != "" || cfg.PartnersURL != "" || cfg.JourneysURL != "") {
		return errors.New("insights: no workload credentials to call the other services with")
	}
	zones, _ := cfg.zones()
	quotas, _ := cfg.quotas()
	schedule, _ := domain.ParseSchedule(cfg.ReportSchedule)
	var keys auth.APIKeyVerifier
	if cfg.MembersURL != "" {
		var err error
		if keys, err = service.MembersKeys("insights", cfg.MembersURL, deps.Credentials, deps.Tracer); err != nil {
			return err
		}
	}
	logger := deps.Logger.With("component", "insights")
	rt, err := service.NewRuntime(ctx, service.RuntimeConfig{Name: "insights", DatabaseURL: cfg.DatabaseURL,
		Migrations: []db.Migrations{outbox.Migrations(), inbox.Migrations(), audit.Migrations(), store.Migrations()}, KafkaBrokers: cfg.KafkaBrokers,
		KafkaSecurity: cfg.KafkaSecurity, Listener: deps.Listener, HTTPAddr: cfg.HTTPAddr, ShutdownTimeout: cfg.ShutdownTimeout, Logger: logger,
		Tracer: deps.Tracer, Meter: deps.Meter})
	if err != nil {
		return err
	}
	defer rt.Close()
	st := store.New(rt.DB, zones)
	if err := recomputeMoved(ctx, st, logger); err != nil {
		return err
	}
	gate := events.NewGate()
	clients := newClients(cfg, deps)
	if len(clients.histories) > 0 {
		clients.histories = append(clients.histories, deps.ExtraHistories...)
	}
	engine := api.NewEngine(st, api.EngineConfig{Quotas: quotas, SeriesDays: cfg.SeriesDays, Now: deps.Now})
	reporter := api.NewReporter(engine, clients.templates, clients.messages, schedule, logger, deps.Now)
	rebuilder := api.NewRebuilder(st, gate, clients.histories, logger, deps.Now)
	if clients.nominations != nil {
		rebuilder.WithNominations(clients.nominations)
	}
	apiDeps := api.Deps{Engine: engine, Audit: audit.New(rt.DB), Rebuilder: rebuilder,
		Reporter: reporter, Logger: logger, Now: deps.Now}
	tokens, err := service.Tokens("insights", cfg.Auth)
	if err != nil {
		return err
	}
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: keys, Policy: api.Policy().Merge(api.MemberDataPolicy()), Logger: logger})
	opts := rpc.HandlerOptions(deps.Tracer, logger, guard)
	rt.Server.Handle(insightsv1connect.NewInsightsServiceHandler(api.NewInsights(apiDeps), opts...))
	rt.Server.Handle(insightsv1connect.NewGoalsServiceHandler(api.NewGoals(apiDeps), opts...))
	rt.Server.Handle(insightsv1connect.NewMemberDataServiceHandler(api.NewMemberData(apiDeps), opts...)) // subject access
	rt.Server.Handle(auditv1connect.NewAuditServiceHandler(audit.NewHandler(audit.New(rt.DB), "insights", logger), opts...))
	rt.Server.Handle(openapi.Pattern, openapi.Handler("insights")) // the OpenAPI document of these APIs

	work := []func(context.Context) error{
		rt.Consume(cfg.Communities, feed(st, inbox.New(rt.DB), gate)),
		rt.Every(time.Hour, true, reporter.SendDue),
		rt.Every(24*time.Hour, true, purgeInbox(inbox.New(rt.DB), cfg.InboxKeep, logger)),
	}
	if clients.nominations != nil {
		work = append(work, rt.Every(cfg.NominationsEvery, true, api.NewNominationSync(st, gate, clients.nominations, cfg.Communities, logger).Run))
	}
	if deps.Meter != nil {
		gauges, err := api.NewGauges(engine, deps.Meter.Meter("github.com/kinshiphq/kinship/services/insights"), logger)
		if err != nil {
			return fmt.Errorf("insights: %w", err)
		}
		work = append(work, rt.Every(cfg.GaugeEvery, true, gauges.Refresh))
	}
	return rt.Run(ctx, work...)
}

// clients are the other services' APIs the insights service calls.
type clients struct {
	histories []api.HistorySource
	templates communicationsv1connect.TemplatesServiceClient
	messages  communicationsv1connect.CommunicationsServiceClient
	// nominations are the worker's ambassador nominations; nil without a
	// journeys URL.
	nominations api.NominationSource
}

func newClients(cfg Config, deps Deps) clients {
	var out clients
	if deps.Credentials == nil {
		return out
	}
	opts := rpc.ClientOptions(deps.Tracer, auth.NewClientInterceptor(deps.Credentials))
	// A history may take minutes to stream; each unary call has its bound.
	streams := rpc.HTTPClient(0)
	for _, s := range []struct{ name, url string }{{"members", cfg.MembersURL}, {"events", cfg.EventsURL},
		{"communications", cfg.CommunicationsURL}, {"partners", cfg.PartnersURL}} {
		if s.url == "" {
			out.histories = nil
			break
		}
		out.histories = append(out.histories, api.ConnectHistory(s.name, insightsv1connect.NewHistoryServiceClient(streams, s.url, opts...)))
	}
	if cfg.JourneysURL != "" {
		// Each page asks the worker about up to 500 candidacies.
		out.nominations = api.ConnectNominations(journeysv1connect.NewJourneysServiceClient(rpc.HTTPClient(2*time.Minute), cfg.JourneysURL, opts...))
	}
	if cfg.CommunicationsURL != "" {
		unary := rpc.HTTPClient(30 * time.Second)
		out.templates = communicationsv1connect.NewTemplatesServiceClient(unary, cfg.CommunicationsURL, opts...)
		out.messages = communicationsv1connect.NewCommunicationsServiceClient(unary, cfg.CommunicationsURL, opts...)
	}
	return out
}
