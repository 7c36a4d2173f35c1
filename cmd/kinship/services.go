package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/services/communications"
	"github.com/kinshiphq/kinship/services/members"
	"github.com/kinshiphq/kinship/workflows"
)

// common are the settings every component shares.
type common struct {
	communities  []string
	kafkaBrokers []string
	otlpEndpoint string
}

func (c *common) define(f *flags) {
	f.list(&c.communities, "communities", "KINSHIP_COMMUNITIES", "", "community slugs this instance serves")
	f.list(&c.kafkaBrokers, "kafka-brokers", "KAFKA_BROKERS", "", "Kafka bootstrap servers")
	f.string(&c.otlpEndpoint, "otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "", "OTLP/gRPC collector URL; empty keeps traces in process")
}

// withTelemetry runs fn with the process's telemetry and flushes it after.
func withTelemetry(ctx context.Context, c common, logger *slog.Logger, fn func(*telemetry.Telemetry) error) error {
	tel, err := telemetry.New(ctx, telemetry.Config{OTLPEndpoint: c.otlpEndpoint, Version: version})
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(flushCtx); err != nil {
			logger.Warn("flushing telemetry failed", "error", err)
		}
	}()
	return fn(tel)
}

func runMembers(ctx context.Context, args []string, env envFunc, logger *slog.Logger) error {
	var c common
	var cfg members.Config
	f := newFlags("members", env)
	c.define(f)
	f.string(&cfg.HTTPAddr, "http-addr", "KINSHIP_HTTP_ADDR", ":8081", "API listen address")
	f.string(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "postgres:// URL or SQLite file path")
	if err := f.duration(&cfg.ShutdownTimeout, "shutdown-timeout", "KINSHIP_SHUTDOWN_TIMEOUT", 0, "graceful shutdown bound"); err != nil {
		return err
	}
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.Communities, cfg.KafkaBrokers = c.communities, c.kafkaBrokers
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return withTelemetry(ctx, c, logger, func(tel *telemetry.Telemetry) error {
		return members.Run(ctx, cfg, members.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-members"), Meter: tel.MeterProvider("kinship-members")})
	})
}

func runCommunications(ctx context.Context, args []string, env envFunc, logger *slog.Logger) error {
	var c common
	var cfg communications.Config
	f := newFlags("communications", env)
	c.define(f)
	f.string(&cfg.HTTPAddr, "http-addr", "KINSHIP_HTTP_ADDR", ":8082", "API listen address")
	f.string(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "postgres:// URL or SQLite file path")
	f.string(&cfg.SMTPURL, "smtp-url", "SMTP_URL", "", "mail server: smtp://, smtp+starttls:// or smtps://[user:pass@]host[:port]")
	f.string(&cfg.SMTPFrom, "smtp-from", "SMTP_FROM", "", "sender address, such as \"Kinship <no-reply@example.org>\"")
	if err := f.duration(&cfg.ShutdownTimeout, "shutdown-timeout", "KINSHIP_SHUTDOWN_TIMEOUT", 0, "graceful shutdown bound"); err != nil {
		return err
	}
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.Communities, cfg.KafkaBrokers = c.communities, c.kafkaBrokers
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return withTelemetry(ctx, c, logger, func(tel *telemetry.Telemetry) error {
		return communications.Run(ctx, cfg, communications.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-communications"), Meter: tel.MeterProvider("kinship-communications")})
	})
}

func runWorker(ctx context.Context, args []string, env envFunc, logger *slog.Logger) error {
	var c common
	var cfg workflows.Config
	f := newFlags("worker", env)
	c.define(f)
	f.string(&cfg.HTTPAddr, "http-addr", "KINSHIP_HTTP_ADDR", ":8083", "health listen address")
	f.string(&cfg.TemporalAddress, "temporal-address", "TEMPORAL_ADDRESS", "", "Temporal frontend host:port")
	f.string(&cfg.MembersURL, "members-url", "KINSHIP_MEMBERS_URL", "", "members API base URL")
	f.string(&cfg.CommunicationsURL, "communications-url", "KINSHIP_COMMUNICATIONS_URL", "", "communications API base URL")
	if err := f.duration(&cfg.OnboardingReminderAfter, "onboarding-reminder-after", "KINSHIP_ONBOARDING_REMINDER_AFTER", 0, "profile reminder delay; 0 means 48h"); err != nil {
		return err
	}
	if err := f.duration(&cfg.OnboardingGiveUpAfter, "onboarding-give-up-after", "KINSHIP_ONBOARDING_GIVE_UP_AFTER", 0, "how long a journey waits for the profile; 0 means 30 days"); err != nil {
		return err
	}
	if err := f.duration(&cfg.ShutdownTimeout, "shutdown-timeout", "KINSHIP_SHUTDOWN_TIMEOUT", 0, "graceful shutdown bound"); err != nil {
		return err
	}
	if err := f.parse(args); err != nil {
		return err
	}
	cfg.Communities, cfg.KafkaBrokers = c.communities, c.kafkaBrokers
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return withTelemetry(ctx, c, logger, func(tel *telemetry.Telemetry) error {
		return workflows.Run(ctx, cfg, workflows.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-worker")})
	})
}
