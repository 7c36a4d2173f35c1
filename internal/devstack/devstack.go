// Package devstack runs the whole platform in one process for development
// and end-to-end tests: an embedded Temporal server on SQLite with its Web
// UI, an in-process Kafka-protocol broker, an SMTP sink with a page of the
// mail it holds, the members, communications, events and partners
// services and the worker, a trace viewer over the recent spans and logs
// of all of them, with the demo community seeded.
// All data lives under one folder, so a restart keeps it.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kinshiphq/kinship/console"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/tracestore"
	"github.com/kinshiphq/kinship/services/communications"
	commevents "github.com/kinshiphq/kinship/services/communications/events"
	eventsservice "github.com/kinshiphq/kinship/services/events"
	eventevents "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/members"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/services/partners"
	partnerevents "github.com/kinshiphq/kinship/services/partners/events"
	"github.com/kinshiphq/kinship/workflows"
)

// Config configures the dev stack. A port of 0 picks a free one.
type Config struct {
	DataDir string
	// Communities to serve; the first is the demo community.
	Communities []string
	// KafkaBrokers, when set, replaces the embedded broker.
	KafkaBrokers []string
	// KafkaSecurity protects the connections to KafkaBrokers; the
	// embedded broker is always plaintext.
	KafkaSecurity kafka.Security

	MembersPort, CommunicationsPort, WorkerPort int
	EventsPort, PartnersPort                    int
	TemporalPort, KafkaPort                     int
	SMTPPort, MailHTTPPort                      int
	IssuerPort                                  int
	// ConsolePort is the web console's; it serves the first community.
	ConsolePort int
	// InsightsPort is the insights service's.
	InsightsPort int
	// TracesPort serves the trace viewer; TemporalUIPort the Temporal
	// Web UI.
	TracesPort, TemporalUIPort int
	// Traces bounds the trace viewer's store; zero means its defaults
	// (100,000 spans).
	Traces tracestore.Config

	OnboardingReminderAfter time.Duration
	// EmailPerSecond bounds the e-mails the communications service sends
	// per second per community; zero means its default (50). Benchmarks
	// lift it to measure the path rather than the limit.
	EmailPerSecond float64
}

// DefaultConfig is what `kinship dev` runs with.
func DefaultConfig() Config {
	return Config{
		DataDir:     ".kinship",
		Communities: []string{"demo"},
		MembersPort: 8081, CommunicationsPort: 8082, WorkerPort: 8083,
		EventsPort: 8085, PartnersPort: 8086,
		TemporalPort: 7233, KafkaPort: 9092,
		SMTPPort: 1025, MailHTTPPort: 8025,
		IssuerPort:   8084,
		ConsolePort:  8080,
		InsightsPort: 8087,
		// Jaeger's and the Temporal CLI's ports, where SREs look.
		TracesPort: 16686, TemporalUIPort: 8233,
	}
}

// Endpoints say where each part listens once the stack is ready.
type Endpoints struct {
	Members, Communications, Worker string // base URLs
	Events, Partners                string
	Mail                            string // SMTP sink HTTP API base URL
	Issuer                          string // local OIDC issuer URL
	// Console is the web console's URL; ConsoleSignIn signs the first
	// community's organiser in with one click.
	Console, ConsoleSignIn string
	// Insights is the insights service's base URL.
	Insights string
	// Traces is the trace viewer (its JSON API under /api/traces);
	// TemporalUI the Temporal Web UI.
	Traces, TemporalUI string
	SMTP, Temporal     string // host:port
	Kafka              []string
	Communities        []string
	// Tokens are bearer tokens of the first community's seeded people,
	// by role, valid for 30 days; TokenDir holds them as files too.
	Tokens   map[auth.Role]string
	TokenDir string
	// BounceToken authenticates POST {Communications}/bounces for the
	// first community (each community has its own).
	BounceToken string
}

// Deps are what Run is given.
type Deps struct {
	Logger    *slog.Logger
	Telemetry *telemetry.Telemetry
}

const host = "127.0.0.1"

// Run starts everything, calls ready once every part answers, and runs
// until ctx ends; then it stops everything and returns.
func Run(ctx context.Context, cfg Config, deps Deps, ready func(Endpoints)) error {
	if len(cfg.Communities) == 0 {
		return errors.New("dev: no communities")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("dev: data folder: %w", err)
	}
	// Every span and every log record made inside one goes to the trace
	// viewer as well.
	traces := tracestore.New(cfg.Traces)
	deps.Telemetry.AddSpanProcessor(traces)
	deps.Logger = slog.New(traces.LogHandler(deps.Logger.Handler()))
	logger := deps.Logger
	ports, err := resolvePorts(&cfg)
	if err != nil {
		return err
	}
	ep := Endpoints{
		Members:        "http://" + ports.members.Addr().String(),
		Communications: "http://" + ports.communications.Addr().String(),
		Worker:         "http://" + ports.worker.Addr().String(),
		Events:         "http://" + ports.events.Addr().String(),
		Partners:       "http://" + ports.partners.Addr().String(),
		Mail:           "http://" + ports.mailHTTP.Addr().String(),
		Issuer:         "http://" + ports.issuer.Addr().String(),
		Console:        "http://" + ports.console.Addr().String(),
		Insights:       "http://" + ports.insights.Addr().String(),
		Traces:         "http://" + ports.traces.Addr().String(),
		TemporalUI:     "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.TemporalUIPort)),
		TokenDir:       filepath.Join(cfg.DataDir, "tokens"),
		SMTP:           ports.smtp.Addr().String(),
		Temporal:       net.JoinHostPort(host, strconv.Itoa(cfg.TemporalPort)),
		Kafka:          cfg.KafkaBrokers,
		Communities:    cfg.Communities,
	}
	defer ports.close()

	sec := cfg.KafkaSecurity
	if len(ep.Kafka) == 0 {
		if !sec.IsZero() {
			return errors.New("dev: kafka security settings apply only to other brokers (-kafka-brokers); the embedded broker is plaintext")
		}
		broker, err := startKafka(cfg.KafkaPort, filepath.Join(cfg.DataDir, "kafka"))
		if err != nil {
			return fmt.Errorf("dev: %w", err)
		}
		defer broker.Close()
		ep.Kafka = broker.ListenAddrs()
	}
	if err := ensureTopics(ctx, ep.Kafka, sec, cfg.Communities); err != nil {
		return fmt.Errorf("dev: %w", err)
	}

	temporalServer, err := StartTemporal(TemporalConfig{
		DataFile:   filepath.Join(cfg.DataDir, "temporal.db"),
		Address:    ep.Temporal,
		Namespaces: cfg.Communities,
		Logger:     logger.With("component", "temporal"),
	})
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer temporalServer.Stop()

	issuer, err := localissuer.New(ep.Issuer, filepath.Join(cfg.DataDir, "issuer-keys.json"))
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	trust := tokenConfig(issuer)
	issuer.RegisterClient(consoleClient(ep.Console))
	unsubscribeKey, err := devSecret(cfg.DataDir, "unsubscribe-key")
	if err != nil {
		return err
	}
	bounceToken, err := devSecret(cfg.DataDir, "bounce-token")
	if err != nil {
		return err
	}
	// Each community's bounce token derives from the instance's secret;
	// the first community's is the one shown.
	ep.BounceToken = communications.CommunityBounceToken(string(bounceToken), cfg.Communities[0])

	sink, err := smtpsink.New(filepath.Join(cfg.DataDir, "mail"), logger.With("component", "smtp-sink"))
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sink.ServeSMTP(gctx, ports.smtp) })
	g.Go(func() error { return serveHandler(gctx, ports.mailHTTP, sink.Handler()) })
	g.Go(func() error { return serveHandler(gctx, ports.issuer, issuer.Handler()) })
	g.Go(func() error {
		return serveHandler(gctx, ports.traces, traces.Handler(tracestore.ViewerConfig{TemporalUI: ep.TemporalUI,
			Links: map[string]string{"Mail": ep.Mail + "/", "Console": ep.Console}}))
	})
	g.Go(func() error {
		return runTemporalUI(gctx, strings.TrimPrefix(ep.TemporalUI, "http://"), ep.Temporal, cfg.Communities[0])
	})
	g.Go(func() error {
		return members.Run(gctx, members.Config{
			HTTPAddr:      ports.members.Addr().String(),
			DatabaseURL:   filepath.Join(cfg.DataDir, "members.db"),
			KafkaBrokers:  ep.Kafka,
			KafkaSecurity: sec,
			Communities:   cfg.Communities,
			Auth:          trust,
		}, members.Deps{Logger: logger, Tracer: deps.Telemetry.TracerProvider("kinship-members"),
			Meter: deps.Telemetry.MeterProvider("kinship-members"), Listener: ports.members})
	})
	g.Go(func() error {
		return communications.Run(gctx, communications.Config{
			HTTPAddr:      ports.communications.Addr().String(),
			DatabaseURL:   filepath.Join(cfg.DataDir, "communications.db"),
			KafkaBrokers:  ep.Kafka,
			KafkaSecurity: sec,
			Communities:   cfg.Communities,
			SMTPURL:       "smtp://" + ep.SMTP,
			SMTPFrom:      "Kinship <no-reply@kinship.localhost>",
			Auth:          trust,
			MembersURL:    ep.Members,
			PublicURL:     ep.Communications,
			// Digests link to the events service's calendar downloads.
			EventsPublicURL: ep.Events,
			// Announcements go out at once in development.
			QuietHours:     "off",
			EmailPerSecond: cfg.EmailPerSecond,
			UnsubscribeKey: unsubscribeKey,
			BounceToken:    string(bounceToken),
			// Webhooks may post to receivers on this machine in
			// development; everything else internal stays refused.
			OutboundAllow: []string{"127.0.0.1/32", "::1/128"},
		}, communications.Deps{Logger: logger, Tracer: deps.Telemetry.TracerProvider("kinship-communications"),
			Credentials: workloadTokens(issuer, communicationsSubject),
			Meter:       deps.Telemetry.MeterProvider("kinship-communications"), Listener: ports.communications})
	})
	g.Go(func() error {
		return eventsservice.Run(gctx, eventsservice.Config{
			HTTPAddr:      ports.events.Addr().String(),
			DatabaseURL:   filepath.Join(cfg.DataDir, "events.db"),
			KafkaBrokers:  ep.Kafka,
			KafkaSecurity: sec,
			Communities:   cfg.Communities,
			Auth:          trust,
			MembersURL:    ep.Members,
			PartnersURL:   ep.Partners,
			PublicURL:     ep.Events,
		}, eventsservice.Deps{Logger: logger, Tracer: deps.Telemetry.TracerProvider("kinship-events"),
			Meter: deps.Telemetry.MeterProvider("kinship-events"), Listener: ports.events,
			Credentials: workloadTokens(issuer, eventsSubject)})
	})
	g.Go(func() error {
		return partners.Run(gctx, partners.Config{
			HTTPAddr:      ports.partners.Addr().String(),
			DatabaseURL:   filepath.Join(cfg.DataDir, "partners.db"),
			KafkaBrokers:  ep.Kafka,
			KafkaSecurity: sec,
			Communities:   cfg.Communities,
			Auth:          trust,
			MembersURL:    ep.Members,
			EventsURL:     ep.Events,
			// Attention items reach owners and organisers by e-mail.
			CommunicationsURL: ep.Communications,
		}, partners.Deps{Logger: logger, Tracer: deps.Telemetry.TracerProvider("kinship-partners"),
			Meter: deps.Telemetry.MeterProvider("kinship-partners"), Listener: ports.partners,
			Credentials: workloadTokens(issuer, partnersSubject)})
	})
	g.Go(func() error {
		return workflows.Run(gctx, workflows.Config{
			HTTPAddr:                ports.worker.Addr().String(),
			DatabaseURL:             filepath.Join(cfg.DataDir, "worker.db"),
			TemporalAddress:         ep.Temporal,
			Communities:             cfg.Communities,
			KafkaBrokers:            ep.Kafka,
			KafkaSecurity:           sec,
			MembersURL:              ep.Members,
			CommunicationsURL:       ep.Communications,
			EventsURL:               ep.Events,
			PartnersURL:             ep.Partners,
			InsightsURL:             ep.Insights,
			Auth:                    trust,
			OnboardingReminderAfter: cfg.OnboardingReminderAfter,
			// Journeys link to their workflows in the UI served above.
			TemporalUI: ep.TemporalUI,
		}, workflows.Deps{Logger: logger, Tracer: deps.Telemetry.TracerProvider("kinship-worker"), Listener: ports.worker,
			Credentials: workloadTokens(issuer, workerSubject)})
	})
	freshInsights := !exists(filepath.Join(cfg.DataDir, "insights.db"))
	g.Go(func() error { return runInsights(gctx, cfg, ep, sec, trust, issuer, ports.insights, deps) })
	g.Go(func() error {
		return console.Run(gctx, consoleConfig(cfg, ep, trust), console.Deps{Logger: logger,
			Tracer: deps.Telemetry.TracerProvider("kinship-console"), Listener: ports.console})
	})
	g.Go(func() error {
		readyCtx, cancel := context.WithTimeout(gctx, 60*time.Second)
		defer cancel()
		// Every part is waited for at once, and the people are seeded as
		// soon as the members service answers, while the rest still
		// starts: the banner comes when the slowest part is ready.
		wait, waitCtx := errgroup.WithContext(readyCtx)
		for _, base := range []string{ep.Communications, ep.Events, ep.Partners, ep.Worker, ep.Insights} {
			wait.Go(func() error { return serve.WaitReady(waitCtx, base) })
		}
		wait.Go(func() error {
			if err := serve.WaitReady(waitCtx, ep.Members); err != nil {
				return err
			}
			for i, community := range cfg.Communities {
				tokens, err := seed(waitCtx, issuer, ep.Members, community, cfg.DataDir)
				if err != nil {
					return err
				}
				if i == 0 {
					ep.Tokens = tokens
				}
			}
			return nil
		})
		if err := wait.Wait(); err != nil {
			if gctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dev: %w", err)
		}
		ep.ConsoleSignIn = ep.Console + "/signin?login_hint=" + personSubject(auth.Organiser, cfg.Communities[0])
		if freshInsights {
			seedInsights(readyCtx, issuer, ep, cfg.Communities[0], logger)
		}
		ready(ep)
		return nil
	})
	return g.Wait()
}

// ensureTopics creates each community's topics and their dead-letter topics.
func ensureTopics(ctx context.Context, brokers []string, sec kafka.Security, communities []string) error {
	var topics []kafka.Topic
	for _, c := range communities {
		for _, name := range []string{memberevents.Topic(c), eventevents.Topic(c), commevents.Topic(c), partnerevents.Topic(c)} {
			topics = append(topics,
				kafka.Topic{Name: name, Partitions: 4, ReplicationFactor: 1},
				kafka.Topic{Name: kafka.DeadLetterTopic(name), Partitions: 1, ReplicationFactor: 1})
		}
	}
	var err error
	for attempt := range 5 { // a broker that just started may refuse a request or two
		if err = kafka.EnsureTopics(ctx, brokers, sec, topics...); err == nil {
			return nil
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	return err
}

func serveHandler(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dev: http on %s: %w", ln.Addr(), err)
	}
	return nil
}
