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
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/gen/openapi"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	kmail "github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/internal/outbound"
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
	// DKIMKeyFile, DKIMSelector and DKIMDomain make every e-mail carry a
	// DKIM signature: a PEM private key (RSA of 2048 bits, or Ed25519)
	// whose public key is published at <selector>._domainkey.<domain>.
	// The domain must be the sender's or a parent of it (DMARC
	// alignment). All three or none.
	DKIMKeyFile, DKIMSelector, DKIMDomain string
	// PublicURL is where members reach this service, for unsubscribe and
	// confirmation links, such as https://kinship.example.org; https
	// unless it is a loopback address (development).
	PublicURL string
	// UnsubscribeKey signs unsubscribe and confirmation links; at least
	// 32 bytes. Links stay valid across restarts only while the key does.
	UnsubscribeKey []byte
	// EventsPublicURL is the events service's public address, for
	// "add to calendar" links in digests; empty leaves them out.
	EventsPublicURL string
	// BounceToken is the instance's bounce secret: each community's
	// bearer token for POST /bounces is derived from it
	// (CommunityBounceToken) and accepts reports for that community only.
	// Empty disables bounce intake.
	BounceToken string
	// OutboundAllow lists CIDRs and host names webhooks may reach although
	// they are internal (an in-cluster chat bridge); everything else
	// internal is refused (internal/outbound).
	OutboundAllow []string
	// QuietHours are the recipient-local hours in which announcements
	// wait: "21:00-08:00" (the default) or "off".
	QuietHours string
	// EmailPerSecond and WebhookPerSecond bound sends per community.
	EmailPerSecond, WebhookPerSecond float64
	// SubscriptionRetryBase is the wait after a domain webhook's first
	// failed attempt, four times longer after each next one (at most 6 h);
	// 0 means 30 s. SubscriptionMaxAttempts is how often a delivery is
	// tried before it fails; 0 means 8.
	SubscriptionRetryBase   time.Duration
	SubscriptionMaxAttempts int
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
	if err := checkPublicURL(c.PublicURL); err != nil {
		errs = append(errs, err)
	}
	if err := c.checkDKIM(); err != nil {
		errs = append(errs, err)
	}
	if _, err := outbound.NewPolicy(c.OutboundAllow); err != nil {
		errs = append(errs, fmt.Errorf("communications: %w", err))
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

// checkPublicURL wants an https URL without a query: links in e-mail are
// followed from anywhere. Plain http is for development only, on a
// loopback address.
func checkPublicURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("communications: public url %q is not an http(s) URL without a query", raw)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return fmt.Errorf("communications: public url %q must be https (plain http only on a loopback address, for development)", raw)
	}
	return nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// checkDKIM wants all three DKIM settings or none, and a signing domain
// the sender's address belongs to.
func (c Config) checkDKIM() error {
	set := 0
	for _, v := range []string{c.DKIMKeyFile, c.DKIMSelector, c.DKIMDomain} {
		if v != "" {
			set++
		}
	}
	switch {
	case set == 0:
		return nil
	case set != 3:
		return errors.New("communications: DKIM needs a key file, a selector and a domain, or none of them")
	}
	domain := strings.ToLower(strings.TrimSuffix(c.DKIMDomain, "."))
	if from := senderDomain(c.SMTPFrom); from != domain && !strings.HasSuffix(from, "."+domain) {
		return fmt.Errorf("communications: DKIM domain %q is not the sender's domain %q or a parent of it (DMARC would not align)", c.DKIMDomain, from)
	}
	if !dnsName.MatchString(strings.ToLower(c.DKIMSelector)) || !dnsName.MatchString(domain) {
		return fmt.Errorf("communications: DKIM selector %q and domain %q must be DNS names", c.DKIMSelector, c.DKIMDomain)
	}
	return nil
}

// dnsName matches host names (labels of letters, digits and hyphens).
var dnsName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// dkim loads the signing key, when DKIM is configured.
func (c Config) dkim() (*kmail.DKIM, error) {
	if c.DKIMKeyFile == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(c.DKIMKeyFile)
	if err != nil {
		return nil, fmt.Errorf("communications: DKIM key: %w", err)
	}
	key, err := kmail.ParseDKIMKey(raw)
	if err != nil {
		return nil, fmt.Errorf("communications: %w", err)
	}
	return &kmail.DKIM{Domain: strings.TrimSuffix(c.DKIMDomain, "."), Selector: c.DKIMSelector, Key: key}, nil
}

// CommunityBounceToken is the bearer token a community's bounce reports
// carry, derived from the instance's bounce secret (Config.BounceToken).
func CommunityBounceToken(secret, community string) string {
	return domain.BounceToken([]byte(secret), community)
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
	signing, err := cfg.dkim()
	if err != nil {
		return err
	}
	sender, err := kmail.NewSender(kmail.Config{URL: cfg.SMTPURL, From: cfg.SMTPFrom, MaxConnections: cfg.SMTPMaxConnections, DKIM: signing}, deps.Tracer)
	if err != nil {
		return fmt.Errorf("communications: %w", err)
	}
	defer sender.Close()
	webhooks, err := outbound.New(outbound.Config{Allow: cfg.OutboundAllow})
	if err != nil {
		return fmt.Errorf("communications: %w", err)
	}
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
		Webhooks:         webhooks,
		Quiet:            quiet,
		Links:            Links{Key: cfg.UnsubscribeKey, BaseURL: strings.TrimRight(cfg.PublicURL, "/")},
		MessageIDDomain:  senderDomain(cfg.SMTPFrom),
		EventsURL:        cfg.EventsPublicURL,
		EmailPerSecond:   cfg.EmailPerSecond,
		WebhookPerSecond: cfg.WebhookPerSecond,
		RetryBase:        cfg.RetryBase,
		SMTPConnections:  cfg.SMTPMaxConnections,
		Tracer:           deps.Tracer,
		Logger:           logger,
	})
	members := membersv1connect.NewMembersServiceClient(rpc.HTTPClient(10*time.Second), cfg.MembersURL,
		rpc.ClientOptions(deps.Tracer, auth.NewClientInterceptor(deps.Credentials))...)
	auditLog := audit.New(d)
	queuer := newAnnouncementQueuer(st, deliverer.Wake, logger)
	handler := api.New(st, delivery{deliverer, queuer}, auditLog, logger, api.Options{
		Communities:    cfg.Communities,
		UnsubscribeKey: cfg.UnsubscribeKey,
		BounceSecret:   []byte(cfg.BounceToken),
		Destinations:   func(raw string) error { _, err := webhooks.Policy().CheckURL(raw); return err },
		Members:        membersConfirmer{members},
		Quiet:          quiet,
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
	subscriptions := newSubscriptionDispatcher(st, webhooks, cfg.SubscriptionRetryBase, cfg.SubscriptionMaxAttempts, logger)
	srv.Handle(communicationsv1connect.NewSubscriptionsServiceHandler(api.NewSubscriptions(handler, subscriptions.Wake), opts...))
	srv.Handle(auditv1connect.NewAuditServiceHandler(audit.NewHandler(auditLog, "communications", logger), opts...))
	srv.Handle(openapi.Pattern, openapi.Handler("communications"))                              // the OpenAPI document of these APIs
	srv.Handle(insightsv1connect.NewHistoryServiceHandler(api.NewHistory(st, logger), opts...)) // the insights service's rebuild
	handler.Routes(srv)

	work := []func(context.Context) error{func(ctx context.Context) error {
		return deliverer.Dispatch(ctx, cfg.DispatchBatch, cfg.DispatchWorkers, time.Second)
	}, func(ctx context.Context) error { return queuer.Run(ctx, time.Second) }}
	for _, f := range feeds(st, inbox.New(d), deliverer.Wake) {
		work = append(work, rt.Consume(cfg.Communities, f))
	}
	// The domain webhooks: a feed queueing what subscribers asked for, the
	// dispatcher posting it, and the delivery log kept 30 days.
	work = append(work, rt.Consume(cfg.Communities, subscriptionsFeed(st, subscriptions.Wake)), subscriptions.Run,
		rt.Every(time.Hour, true, pruneSubscriptionDeliveries(st, logger)))
	return rt.Run(ctx, work...)
}

// senderDomain is the domain of the sender address, for Message-IDs and
// DKIM alignment.
func senderDomain(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
			return strings.ToLower(a.Address[at+1:])
		}
	}
	return "kinship.invalid"
}
