// Package communications is the communications service: it talks to
// members by e-mail and keeps a delivery log. Run serves its Connect API
// and relays its events to Kafka.
package communications

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	kmail "github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/api"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// Config configures the communications service.
type Config struct {
	// HTTPAddr is where the API listens, such as ":8082".
	HTTPAddr string
	// DatabaseURL is a postgres:// URL or a SQLite file path.
	DatabaseURL  string
	KafkaBrokers []string
	// Communities are the community slugs this instance serves.
	Communities []string
	// SMTPURL is the mail server: smtp://, smtp+starttls:// or smtps://.
	SMTPURL string
	// SMTPFrom is the sender, such as "Kinship <no-reply@example.org>".
	SMTPFrom string
	// Auth says which bearer tokens to trust.
	Auth auth.TokenConfig
	// MembersURL is the members API, which verifies API keys.
	MembersURL      string
	ShutdownTimeout time.Duration
}

// Validate reports every missing or malformed setting.
func (c Config) Validate() error {
	var errs []error
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("communications: http address is empty"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("communications: database url is empty"))
	}
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("communications: no kafka brokers"))
	}
	if len(c.Communities) == 0 {
		errs = append(errs, errors.New("communications: no communities"))
	}
	for _, slug := range c.Communities {
		if _, ferr := validate.Slug("community", slug, 63); ferr != nil {
			errs = append(errs, fmt.Errorf("communications: community %q %s", slug, ferr.Reason))
		}
	}
	if c.SMTPURL == "" {
		errs = append(errs, errors.New("communications: smtp url is empty"))
	}
	if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
		errs = append(errs, fmt.Errorf("communications: smtp sender %q is not an address", c.SMTPFrom))
	}
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("communications: %w", err))
	}
	if u, err := url.Parse(c.MembersURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("communications: members url %q is not an http(s) URL", c.MembersURL))
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

// Run serves the communications API and relays its outbox until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if deps.Credentials == nil {
		return errors.New("communications: no workload credentials")
	}
	logger := deps.Logger.With("component", "communications")
	sender, err := kmail.NewSender(kmail.Config{URL: cfg.SMTPURL, From: cfg.SMTPFrom}, deps.Tracer)
	if err != nil {
		return fmt.Errorf("communications: %w", err)
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("communications: %w", err)
	}
	defer d.Close()
	if err := db.Migrate(ctx, d, logger, outbox.Migrations(), store.Migrations()); err != nil {
		return fmt.Errorf("communications: %w", err)
	}
	ob := outbox.New(d, telemetry.Propagator())
	writer := kafka.NewWriter(kafka.WriterConfig{Brokers: cfg.KafkaBrokers})
	defer writer.Close()

	ln, err := serve.Listen(deps.Listener, cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("communications: %w", err)
	}
	srv := serve.New(serve.Options{
		Logger:          logger,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Checks:          map[string]serve.Check{"database": d.PingContext},
	})
	handler := api.New(store.New(d, ob), sender, logger, api.Options{
		Communities:     cfg.Communities,
		MessageIDDomain: senderDomain(cfg.SMTPFrom),
	})
	tokens, err := auth.NewTokenVerifier(cfg.Auth, rpc.HTTPClient(10*time.Second))
	if err != nil {
		return fmt.Errorf("communications: %w", err)
	}
	access := membersv1connect.NewAccessServiceClient(rpc.HTTPClient(10*time.Second), cfg.MembersURL,
		rpc.ClientOptions(deps.Tracer, auth.NewClientInterceptor(deps.Credentials))...)
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Keys: auth.NewRemoteKeys(access), Policy: api.Policy(), Logger: logger})
	srv.Handle(communicationsv1connect.NewCommunicationsServiceHandler(handler, rpc.HandlerOptions(deps.Tracer, logger, guard)...))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Serve(gctx, ln) })
	g.Go(func() error {
		return ob.Run(gctx, outbox.RelayConfig{Writer: writer, Tracer: deps.Tracer, Meter: deps.Meter, Logger: logger})
	})
	return g.Wait()
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
