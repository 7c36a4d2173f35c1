// Package communications is the communications service: it talks to
// members by e-mail and webhooks — one-off and templated messages and
// announcements to segments — honouring consent, suppressions, quiet hours
// and rate limits, and keeps a delivery log. Run serves its Connect APIs,
// keeps the recipients projection from members.v1, dispatches queued
// messages and relays its events to Kafka.
package communications

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	kmail "github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/communications/api"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// Config configures the communications service.
type Config struct {
	// HTTPAddr is where the API listens, such as ":8082".
	HTTPAddr string
	// DatabaseURL is a postgres:// URL or a SQLite file path.
	DatabaseURL  string
	KafkaBrokers []string
	// KafkaSecurity protects every Kafka connection (TLS, SASL); zero
	// means plaintext.
	KafkaSecurity kafka.Security
	// Communities are the community slugs this instance serves.
	Communities []string
	// SMTPURL is the mail server: smtp://, smtp+starttls:// or smtps://.
	SMTPURL string
	// SMTPFrom is the sender, such as "Kinship <no-reply@example.org>".
	SMTPFrom string
	// SMTPMaxConnections bounds the reused SMTP connections; 0 means 4.
	SMTPMaxConnections int
	// Auth says which bearer tokens to trust.
	Auth auth.TokenConfig
	// MembersURL is the members API, which verifies API keys.
	MembersURL string
	// PublicURL is where members reach this service, for unsubscribe
	// links, such as https://kinship.example.org.
	PublicURL string
	// UnsubscribeKey signs unsubscribe links; at least 32 bytes. Links
	// stay valid across restarts only while the key does.
	UnsubscribeKey []byte
	// EventsPublicURL is the events service's public address, for
	// "add to calendar" links in digests; empty leaves them out.
	EventsPublicURL string
	// BounceToken authenticates POST /bounces; empty disables bounce intake.
	BounceToken string
	// QuietHours are the recipient-local hours in which announcements
	// wait: "21:00-08:00" (the default) or "off".
	QuietHours string
	// EmailPerSecond and WebhookPerSecond bound sends per community.
	EmailPerSecond, WebhookPerSecond float64
	// RetryBase is the delay before a failed send's first retry, doubling
	// after; 0 means one minute.
	RetryBase time.Duration
	// DispatchWorkers send in parallel; DispatchBatch messages are claimed
	// at a time.
	DispatchWorkers, DispatchBatch int
	ShutdownTimeout                time.Duration
}

// withDefaults fills the settings that have a sensible default.
func (c Config) withDefaults() Config {
	if c.QuietHours == "" {
		c.QuietHours = "21:00-08:00"
	}
	if c.EmailPerSecond == 0 {
		c.EmailPerSecond = 50
	}
	if c.WebhookPerSecond == 0 {
		c.WebhookPerSecond = 10
	}
	if c.DispatchWorkers == 0 {
		c.DispatchWorkers = 8
	}
	if c.DispatchBatch == 0 {
		c.DispatchBatch = 500
	}
	return c
}

// Validate reports every missing or malformed setting.
func (c Config) Validate() error {
	c = c.withDefaults()
	errs := service.Common{Name: "communications", HTTPAddr: c.HTTPAddr, DatabaseURL: c.DatabaseURL, KafkaBrokers: c.KafkaBrokers,
		Communities: c.Communities, Auth: c.Auth}.Check()
	if c.SMTPURL == "" {
		errs = append(errs, errors.New("communications: smtp url is empty"))
	}
	if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
		errs = append(errs, fmt.Errorf("communications: smtp sender %q is not an address", c.SMTPFrom))
	}
	if err := service.CheckHTTPURL("communications", "members url", c.MembersURL); err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("communications: public url %q is not an http(s) URL without a query", c.PublicURL))
	}
	if len(c.UnsubscribeKey) < 32 {
		errs = append(errs, fmt.Errorf("communications: unsubscribe key has %d bytes; it needs at least 32", len(c.UnsubscribeKey)))
	}
	if c.EmailPerSecond < 0 || c.WebhookPerSecond < 0 {
		errs = append(errs, errors.New("communications: rates per second cannot be negative"))
	}
	if c.DispatchWorkers < 0 || c.DispatchBatch < 0 || c.SMTPMaxConnections < 0 {
		errs = append(errs, errors.New("communications: dispatch workers, batch and SMTP connections cannot be negative"))
	}
	if _, err := domain.ParseQuietHours(c.QuietHours); err != nil {
		errs = append(errs, fmt.Errorf("communications: %w", err))
	}
	return errors.Join(errs...)
}

// Deps are what Run is given rather than builds.
type Deps struct {
	Logger *slog.Logger
	Tracer trace.TracerProvider
	// Credentials are this service's workload tokens, presented to the
	// members service when verifying API keys.
	Credentials auth.TokenSource
	// Meter is optional; nil records no metrics.
	Meter metric.MeterProvider
	// Listener, when set, is served instead of listening on HTTPAddr.
	Listener net.Listener
}

// Run serves the communications APIs, keeps the recipients projection,
// dispatches queued messages and relays its outbox until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	keys, err := service.MembersKeys("communications", cfg.MembersURL, deps.Credentials, deps.Tracer)
	if err != nil {
		return err
	}
	logger := deps.Logger.With("component", "communications")
	quiet, _ := domain.ParseQuietHours(cfg.QuietHours) // validated above
	sender, err := kmail.NewSender(kmail.Config{URL: cfg.SMTPURL, From: cfg.SMTPFrom, MaxConnections: cfg.SMTPMaxConnections}, deps.Tracer)
	if err != nil {
		return fmt.Errorf("communications: %w", err)
	}
	defer sender.Close()
	rt, err := service.NewRuntime(ctx, service.RuntimeConfig{Name: "communications", DatabaseURL: cfg.DatabaseURL,
		Migrations: []db.Migrations{outbox.Migrations(), inbox.Migrations(), audit.Migrations(), store.Migrations()}, KafkaBrokers: cfg.KafkaBrokers, KafkaSecurity: cfg.KafkaSecurity,
		Listener: deps.Listener, HTTPAddr: cfg.HTTPAddr, ShutdownTimeout: cfg.ShutdownTimeout, Logger: logger, Tracer: deps.Tracer, Meter: deps.Meter})
	if err != nil {
		return err
	}
	defer rt.Close()
	d, srv := rt.DB, rt.Server
	st := store.New(d, rt.Outbox)
	deliverer := NewDeliverer(st, DelivererConfig{
		Mailer:           sender,
		Webhooks:         &http.Client{Timeout: 10 * time.Second, Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(deps.Tracer))},
		Quiet:            quiet,
		Unsubscribe:      Unsubscriber{Key: cfg.UnsubscribeKey, BaseURL: strings.TrimRight(cfg.PublicURL, "/")},
		MessageIDDomain:  senderDomain(cfg.SMTPFrom),
		EventsURL:        cfg.EventsPublicURL,
		EmailPerSecond:   cfg.EmailPerSecond,
		WebhookPerSecond: cfg.WebhookPerSecond,
		RetryBase:        cfg.RetryBase,
		Tracer:           deps.Tracer,
		Logger:           logger,
	})
	handler := api.New(st, deliverer, audit.New(d), logger, api.Options{
		Communities:    cfg.Communities,
		UnsubscribeKey: cfg.UnsubscribeKey,
		BounceToken:    cfg.BounceToken,
	})
	tokens, err := service.Tokens("communications", cfg.Auth)
	if err != nil {
		return err
	}
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: keys, Policy: api.Policy(), Logger: logger})
	opts := rpc.HandlerOptions(deps.Tracer, logger, guard)
	srv.Handle(communicationsv1connect.NewCommunicationsServiceHandler(handler, opts...))
	srv.Handle(communicationsv1connect.NewTemplatesServiceHandler(handler, opts...))
	srv.Handle(communicationsv1connect.NewAnnouncementsServiceHandler(handler, opts...))
	handler.Routes(srv)

	work := []func(context.Context) error{func(ctx context.Context) error {
		return deliverer.Dispatch(ctx, cfg.DispatchBatch, cfg.DispatchWorkers, time.Second)
	}}
	for _, f := range feeds(st, inbox.New(d)) {
		work = append(work, rt.Consume(cfg.Communities, f))
	}
	return rt.Run(ctx, work...)
}

// senderDomain is the domain of the sender address, for Message-IDs.
func senderDomain(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
			return a.Address[at+1:]
		}
	}
	return "kinship.invalid"
}
