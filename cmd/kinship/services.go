package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	eventsservice "github.com/kinshiphq/kinship/services/events"
	"github.com/kinshiphq/kinship/services/partners"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/services/communications"
	"github.com/kinshiphq/kinship/services/members"
	"github.com/kinshiphq/kinship/workflows"
	"github.com/kinshiphq/kinship/workflows/digest"
)

// common are the settings every component shares.
type common struct {
	communities     []string
	kafkaBrokers    []string
	kafkaSecurity   kafka.Security
	otlpEndpoint    string
	httpAddr        string
	shutdownTimeout time.Duration
}

// component is one part of the platform run on its own.
type component struct {
	name        string
	defaultAddr string
	// define adds the component's own flags.
	define func(f *flags) error
	// configure copies the common settings into the component's config and
	// validates it.
	configure func(c common) error
	run       func(ctx context.Context, tel *telemetry.Telemetry) error
}

// runComponent parses the flags, checks the whole configuration before
// anything starts, and runs the component with the process's telemetry,
// flushing it afterwards.
func runComponent(ctx context.Context, args []string, env envFunc, logger *slog.Logger, comp component) error {
	var c common
	f := newFlags(comp.name, env)
	f.list(&c.communities, "communities", "KINSHIP_COMMUNITIES", "", "community slugs this instance serves")
	f.list(&c.kafkaBrokers, "kafka-brokers", "KAFKA_BROKERS", "", "Kafka bootstrap servers")
	var kafkaSec kafkaSecuritySettings
	if err := defineKafkaSecurity(f, &kafkaSec); err != nil {
		return err
	}
	f.string(&c.otlpEndpoint, "otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "", "OTLP/gRPC collector URL; empty keeps traces in process")
	f.string(&c.httpAddr, "http-addr", "KINSHIP_HTTP_ADDR", comp.defaultAddr, "listen address")
	if err := f.duration(&c.shutdownTimeout, "shutdown-timeout", "KINSHIP_SHUTDOWN_TIMEOUT", 0, "graceful shutdown bound; 0 means 10s"); err != nil {
		return err
	}
	if err := comp.define(f); err != nil {
		return err
	}
	if err := f.parse(args); err != nil {
		return err
	}
	var secErr error
	c.kafkaSecurity, secErr = kafkaSec.build()
	if err := errors.Join(secErr, comp.configure(c)); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	warnInsecureKafka(logger, c.kafkaSecurity)
	tel, err := telemetry.New(ctx, telemetry.Config{OTLPEndpoint: c.otlpEndpoint, Version: version})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(flushCtx); err != nil {
			logger.Warn("flushing telemetry failed", "error", err)
		}
	}()
	return comp.run(ctx, tel)
}

// defineAuth adds the settings of which tokens to trust.
func defineAuth(f *flags, cfg *auth.TokenConfig) error {
	f.string(&cfg.Issuer, "auth-issuer", "AUTH_ISSUER", "", "OIDC issuer URL whose tokens are trusted")
	f.string(&cfg.Audience, "auth-audience", "AUTH_AUDIENCE", "kinship", "audience tokens must be issued for")
	f.list(&cfg.WorkloadSubjects, "auth-workload-subjects", "AUTH_WORKLOAD_SUBJECTS", "", "token subjects of Kinship's own components (worker, services)")
	f.string(&cfg.WorkloadIssuer, "auth-workload-issuer", "AUTH_WORKLOAD_ISSUER", "", "second issuer trusted for workload tokens only, such as the cluster's service-account issuer")
	f.string(&cfg.WorkloadAudience, "auth-workload-audience", "AUTH_WORKLOAD_AUDIENCE", "", "audience of workload tokens (from the workload issuer, or the issuer when none is set); people's tokens must never carry it")
	f.string(&cfg.WorkloadCAFile, "auth-workload-ca-file", "AUTH_WORKLOAD_CA_FILE", "", "PEM bundle trusted when fetching the workload issuer's keys")
	return f.duration(&cfg.ClockSkew, "auth-clock-skew", "AUTH_CLOCK_SKEW", 0, "how long after expiry a token is still accepted; 0 means 1m, at most 5m")
}

// defineCredentials adds where a workload finds its own token.
func defineCredentials(f *flags, path *string) {
	f.string(path, "workload-token-file", "KINSHIP_WORKLOAD_TOKEN_FILE", "", "file holding this component's bearer token, such as a projected service-account token")
}

func credentials(path string) (auth.TokenSource, error) {
	if path == "" {
		return nil, errors.New("workload token file is not set")
	}
	return auth.NewFileTokenSource(path), nil
}

// readSecret reads a secret from a file, such as a mounted Kubernetes
// Secret, without its trailing newline.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading secret: %w", err)
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

func runMembers(ctx context.Context, args []string, env envFunc, logger *slog.Logger) error {
	var cfg members.Config
	var trustedProxies []string
	return runComponent(ctx, args, env, logger, component{
		name: "members", defaultAddr: ":8081",
		define: func(f *flags) error {
			f.string(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "postgres:// URL or SQLite file path")
			f.list(&trustedProxies, "trusted-proxies", "KINSHIP_TRUSTED_PROXIES", "",
				"proxies (CIDR ranges or addresses) whose X-Forwarded-For names the client for per-address join limits; empty trusts none")
			return defineAuth(f, &cfg.Auth)
		},
		configure: func(c common) error {
			cfg.HTTPAddr, cfg.Communities, cfg.KafkaBrokers, cfg.KafkaSecurity, cfg.ShutdownTimeout = c.httpAddr, c.communities, c.kafkaBrokers, c.kafkaSecurity, c.shutdownTimeout
			var err error
			cfg.Limits.TrustedProxies, err = auth.ParseTrustedProxies(trustedProxies)
			return errors.Join(err, cfg.Validate())
		},
		run: func(ctx context.Context, tel *telemetry.Telemetry) error {
			return members.Run(ctx, cfg, members.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-members"), Meter: tel.MeterProvider("kinship-members")})
		},
	})
}

func runCommunications(ctx context.Context, args []string, env envFunc, logger *slog.Logger) error {
	var cfg communications.Config
	var tokenFile, unsubscribeKeyFile, bounceTokenFile string
	var creds auth.TokenSource
	return runComponent(ctx, args, env, logger, component{
		name: "communications", defaultAddr: ":8082",
		define: func(f *flags) error {
			f.string(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "postgres:// URL or SQLite file path")
			f.string(&cfg.SMTPURL, "smtp-url", "SMTP_URL", "", "mail server: smtp://, smtp+starttls:// or smtps://[user:pass@]host[:port]")
			f.string(&cfg.SMTPFrom, "smtp-from", "SMTP_FROM", "", "sender address, such as \"Kinship <no-reply@example.org>\"")
			f.string(&cfg.MembersURL, "members-url", "KINSHIP_MEMBERS_URL", "", "members API base URL (verifies API keys)")
			f.string(&cfg.PublicURL, "public-url", "KINSHIP_PUBLIC_URL", "", "URL members reach this service at, for unsubscribe links")
			f.string(&unsubscribeKeyFile, "unsubscribe-key-file", "KINSHIP_UNSUBSCRIBE_KEY_FILE", "", "file holding the key (32+ bytes) that signs unsubscribe links")
			f.string(&bounceTokenFile, "bounce-token-file", "KINSHIP_BOUNCE_TOKEN_FILE", "", "file holding the bounce secret each community's token for POST /bounces is derived from; unset disables bounce intake")
			f.string(&cfg.DKIMKeyFile, "smtp-dkim-key-file", "SMTP_DKIM_KEY_FILE", "", "PEM private key (RSA 2048 bits or Ed25519) that DKIM-signs outgoing mail; unset sends unsigned")
			f.string(&cfg.DKIMSelector, "smtp-dkim-selector", "SMTP_DKIM_SELECTOR", "", "DKIM selector: the public key is published at <selector>._domainkey.<domain>")
			f.string(&cfg.DKIMDomain, "smtp-dkim-domain", "SMTP_DKIM_DOMAIN", "", "DKIM signing domain: the sender's domain or a parent of it")
			f.list(&cfg.OutboundAllow, "outbound-allow", "KINSHIP_OUTBOUND_ALLOW", "", "CIDRs and host names webhooks may reach although internal, such as an in-cluster chat bridge")
			f.string(&cfg.EventsPublicURL, "events-public-url", "KINSHIP_EVENTS_PUBLIC_URL", "", "the events service's public address, for calendar links in digests")
			f.string(&cfg.QuietHours, "quiet-hours", "KINSHIP_QUIET_HOURS", "21:00-08:00", "recipient-local hours in which announcements wait, or off")
			defineCredentials(f, &tokenFile)
			return errors.Join(
				f.float(&cfg.EmailPerSecond, "email-per-second", "KINSHIP_EMAIL_PER_SECOND", 50, "e-mails sent per second per community"),
				f.float(&cfg.WebhookPerSecond, "webhook-per-second", "KINSHIP_WEBHOOK_PER_SECOND", 10, "webhook posts per second per community"),
				f.int(&cfg.DispatchWorkers, "dispatch-workers", "KINSHIP_DISPATCH_WORKERS", 8, "messages sent in parallel"),
				f.int(&cfg.SMTPMaxConnections, "smtp-max-connections", "SMTP_MAX_CONNECTIONS", 4, "SMTP connections kept open and reused"),
				defineAuth(f, &cfg.Auth))
		},
		configure: func(c common) error {
			cfg.HTTPAddr, cfg.Communities, cfg.KafkaBrokers, cfg.KafkaSecurity, cfg.ShutdownTimeout = c.httpAddr, c.communities, c.kafkaBrokers, c.kafkaSecurity, c.shutdownTimeout
			var errs []error
			var err error
			creds, err = credentials(tokenFile)
			errs = append(errs, err)
			if unsubscribeKeyFile == "" {
				errs = append(errs, errors.New("unsubscribe key file is not set"))
			} else if cfg.UnsubscribeKey, err = readSecret(unsubscribeKeyFile); err != nil {
				errs = append(errs, err)
			}
			if bounceTokenFile != "" {
				token, err := readSecret(bounceTokenFile)
				errs = append(errs, err)
				cfg.BounceToken = string(token)
			}
			return errors.Join(append(errs, cfg.Validate())...)
		},
		run: func(ctx context.Context, tel *telemetry.Telemetry) error {
			return communications.Run(ctx, cfg, communications.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-communications"),
				Meter: tel.MeterProvider("kinship-communications"), Credentials: creds})
		},
	})
}

func runWorker(ctx context.Context, args []string, env envFunc, logger *slog.Logger) error {
	var cfg workflows.Config
	var tokenFile, journeysFile, digestSchedule string
	var temporalTLS temporalTLSSettings
	var creds auth.TokenSource
	return runComponent(ctx, args, env, logger, component{
		name: "worker", defaultAddr: ":8083",
		define: func(f *flags) error {
			f.string(&cfg.TemporalAddress, "temporal-address", "TEMPORAL_ADDRESS", "", "Temporal frontend host:port")
			f.string(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "postgres:// URL or SQLite file path: journey definitions, programmes and the worker's audit log")
			f.string(&cfg.MembersURL, "members-url", "KINSHIP_MEMBERS_URL", "", "members API base URL (also verifies API keys)")
			f.string(&cfg.CommunicationsURL, "communications-url", "KINSHIP_COMMUNICATIONS_URL", "", "communications API base URL")
			f.string(&cfg.EventsURL, "events-url", "KINSHIP_EVENTS_URL", "", "events API base URL (event lifecycles, event suggestions)")
			f.string(&cfg.PartnersURL, "partners-url", "KINSHIP_PARTNERS_URL", "", "partners API base URL (erasures)")
			f.string(&cfg.InsightsURL, "insights-url", "KINSHIP_INSIGHTS_URL", "", "insights API base URL, read by subject-access exports; empty leaves it out of them")
			f.string(&cfg.TemporalUI, "temporal-ui-url", "KINSHIP_TEMPORAL_UI_URL", "", "Temporal Web UI base URL: the journeys API links each journey to its workflow there; empty gives no links")
			f.string(&digestSchedule, "digest-schedule", "KINSHIP_DIGEST_SCHEDULE", "mon 09:00 UTC", "weekly digest time, such as \"fri 17:30 Europe/Berlin\", or off")
			f.string(&journeysFile, "journeys-file", "KINSHIP_JOURNEYS_FILE", "", "JSON file seeding communities' onboarding journeys and ambassador programmes (a changed seed becomes the current version); unset keeps organisers' versions or the defaults")
			defineCredentials(f, &tokenFile)
			defineTemporalTLS(f, &temporalTLS)
			return errors.Join(
				f.bool(&cfg.OnboardImported, "onboard-imported", "KINSHIP_ONBOARD_IMPORTED", false, "start journeys for imported members too, not only by a cohort start"),
				f.duration(&cfg.OnboardingReminderAfter, "onboarding-reminder-after", "KINSHIP_ONBOARDING_REMINDER_AFTER", 0, "default journey's first profile reminder (the second at 2.5x); 0 means 48h"),
				f.duration(&cfg.OnboardingGiveUpAfter, "onboarding-give-up-after", "KINSHIP_ONBOARDING_GIVE_UP_AFTER", 0, "how long the default journey waits for the profile before moving on; 0 means 7 days"),
				f.int(&cfg.StartConcurrency, "start-concurrency", "KINSHIP_START_CONCURRENCY", 16, "journeys a cohort start starts at once"),
				f.int(&cfg.WorkflowCache, "workflow-cache", "KINSHIP_WORKFLOW_CACHE", 500, "workflow executions kept in memory between their tasks (Temporal's sticky cache); an evicted one is replayed from its history"),
				f.int(&cfg.TriggerConcurrency, "trigger-concurrency", "KINSHIP_TRIGGER_CONCURRENCY", 16, "members whose events (joins, confirmations, check-ins) the trigger handles at once, each member's in order"),
				defineAuth(f, &cfg.Auth))
		},
		configure: func(c common) error {
			cfg.HTTPAddr, cfg.Communities, cfg.KafkaBrokers, cfg.KafkaSecurity, cfg.ShutdownTimeout = c.httpAddr, c.communities, c.kafkaBrokers, c.kafkaSecurity, c.shutdownTimeout
			var errs []error
			var err error
			creds, err = credentials(tokenFile)
			errs = append(errs, err)
			cfg.TemporalTLS, err = temporalTLS.build()
			errs = append(errs, err)
			if journeysFile != "" {
				cfg.Journeys, err = readJourneys(journeysFile)
				errs = append(errs, err)
			}
			cfg.Digest, err = digest.ParseSettings(digestSchedule)
			errs = append(errs, err)
			return errors.Join(append(errs, cfg.Validate())...)
		},
		run: func(ctx context.Context, tel *telemetry.Telemetry) error {
			return workflows.Run(ctx, cfg, workflows.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-worker"), Credentials: creds})
		},
	})
}

// readJourneys reads the worker's journeys file.
func readJourneys(path string) (map[string]workflows.Journeys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return workflows.ParseJourneys(f)
}

func runEvents(ctx context.Context, args []string, env envFunc, logger *slog.Logger) error {
	var cfg eventsservice.Config
	var tokenFile string
	var creds auth.TokenSource
	return runComponent(ctx, args, env, logger, component{
		name: "events", defaultAddr: ":8085",
		define: func(f *flags) error {
			f.string(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "postgres:// URL or SQLite file path")
			f.string(&cfg.MembersURL, "members-url", "KINSHIP_MEMBERS_URL", "", "members API base URL (verifies API keys, checks member ids)")
			f.string(&cfg.PartnersURL, "partners-url", "KINSHIP_PARTNERS_URL", "", "partners API base URL, which checks an event's partner id; empty refuses partner ids")
			f.string(&cfg.PublicURL, "public-url", "KINSHIP_EVENTS_PUBLIC_URL", "", "address calendar apps reach this service at, for feed links")
			defineCredentials(f, &tokenFile)
			return errors.Join(
				f.duration(&cfg.SeatOfferWindow, "seat-offer-window", "KINSHIP_SEAT_OFFER_WINDOW", 0, "how long a freed seat is held for the next waitlisted member; 0 means 24h"),
				f.duration(&cfg.SweepEvery, "sweep-every", "KINSHIP_EVENTS_SWEEP_EVERY", 0, "how often expired offers, no-shows and ended events are swept; 0 means 1m"),
				f.duration(&cfg.NoShowAfter, "no-show-after", "KINSHIP_NO_SHOW_AFTER", 0, "delay after an occurrence ends before unchecked seats become no-shows; 0 means 2h"),
				defineAuth(f, &cfg.Auth))
		},
		configure: func(c common) error {
			cfg.HTTPAddr, cfg.Communities, cfg.KafkaBrokers, cfg.KafkaSecurity, cfg.ShutdownTimeout = c.httpAddr, c.communities, c.kafkaBrokers, c.kafkaSecurity, c.shutdownTimeout
			var err error
			creds, err = credentials(tokenFile)
			return errors.Join(cfg.Validate(), err)
		},
		run: func(ctx context.Context, tel *telemetry.Telemetry) error {
			return eventsservice.Run(ctx, cfg, eventsservice.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-events"),
				Meter: tel.MeterProvider("kinship-events"), Credentials: creds})
		},
	})
}

func runPartners(ctx context.Context, args []string, env envFunc, logger *slog.Logger) error {
	var cfg partners.Config
	var tokenFile string
	var thresholds []string
	var creds auth.TokenSource
	return runComponent(ctx, args, env, logger, component{
		name: "partners", defaultAddr: ":8086",
		define: func(f *flags) error {
			f.string(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "postgres:// URL or SQLite file path")
			f.string(&cfg.MembersURL, "members-url", "KINSHIP_MEMBERS_URL", "", "members API base URL (verifies API keys, checks member ids)")
			f.string(&cfg.EventsURL, "events-url", "KINSHIP_EVENTS_URL", "", "events API base URL, which checks a contribution's event id; empty refuses event ids")
			f.list(&thresholds, "expiry-threshold-days", "KINSHIP_AGREEMENT_EXPIRY_DAYS", "30,7", "days before an agreement's end to publish AgreementExpiring")
			f.string(&cfg.CommunicationsURL, "communications-url", "KINSHIP_COMMUNICATIONS_URL", "", "communications API base URL, for e-mailing attention items to owners and organisers; empty only lists them")
			defineCredentials(f, &tokenFile)
			return errors.Join(
				f.duration(&cfg.SweepEvery, "agreement-sweep-every", "KINSHIP_AGREEMENT_SWEEP_EVERY", 0, "how often agreements are swept for expiry; 0 means daily"),
				f.duration(&cfg.AttentionEscalateAfter, "attention-escalate-after", "KINSHIP_ATTENTION_ESCALATE_AFTER", 0, "how long an attention item waits for its owner before the organisers are e-mailed; 0 means 72h"),
				defineAuth(f, &cfg.Auth))
		},
		configure: func(c common) error {
			cfg.HTTPAddr, cfg.Communities, cfg.KafkaBrokers, cfg.KafkaSecurity, cfg.ShutdownTimeout = c.httpAddr, c.communities, c.kafkaBrokers, c.kafkaSecurity, c.shutdownTimeout
			var errs []error
			for _, raw := range thresholds {
				days, err := strconv.Atoi(raw)
				if err != nil {
					errs = append(errs, fmt.Errorf("expiry threshold %q is not a whole number of days", raw))
					continue
				}
				cfg.ExpiryThresholdDays = append(cfg.ExpiryThresholdDays, days)
			}
			// API keys and member ids are checked with the members service, as this workload.
			var err error
			creds, err = credentials(tokenFile)
			errs = append(errs, err)
			return errors.Join(append(errs, cfg.Validate())...)
		},
		run: func(ctx context.Context, tel *telemetry.Telemetry) error {
			return partners.Run(ctx, cfg, partners.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-partners"),
				Meter: tel.MeterProvider("kinship-partners"), Credentials: creds})
		},
	})
}
