package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/kinshiphq/kinship/console"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

// runConsole runs the web console for one community: `kinship console`.
func runConsole(ctx context.Context, args []string, env envFunc, logger *slog.Logger) error {
	var cfg console.Config
	var otlp, secretFile string
	f := newFlags("console", env)
	defineConsole(f, &cfg, &secretFile)
	f.string(&otlp, "otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "", "OTLP/gRPC collector URL; empty keeps traces in process")
	if err := f.duration(&cfg.ShutdownTimeout, "shutdown-timeout", "KINSHIP_SHUTDOWN_TIMEOUT", 0, "graceful shutdown bound; 0 means 10s"); err != nil {
		return err
	}
	if err := f.duration(&cfg.SessionMaxAge, "session-max-age", "KINSHIP_CONSOLE_SESSION_MAX_AGE", 0, "longest a session lives (never past its access token); 0 means 12h"); err != nil {
		return err
	}
	if err := f.duration(&cfg.SessionIdle, "session-idle-timeout", "KINSHIP_CONSOLE_SESSION_IDLE_TIMEOUT", 0, "a session unused this long ends; 0 means 2h"); err != nil {
		return err
	}
	if err := f.duration(&cfg.Auth.ClockSkew, "auth-clock-skew", "AUTH_CLOCK_SKEW", 0, "how long after expiry a token is still accepted; 0 means 1m, at most 5m"); err != nil {
		return err
	}
	if err := f.parse(args); err != nil {
		return err
	}
	secret, err := console.ReadSecretFile(secretFile)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	cfg.ClientSecret = secret
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	tel, err := telemetry.New(ctx, telemetry.Config{OTLPEndpoint: otlp, Version: version})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	defer func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }()
	return console.Run(ctx, cfg, console.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-console")})
}

// defineConsole adds the console's settings.
func defineConsole(f *flags, cfg *console.Config, secretFile *string) {
	f.string(&cfg.HTTPAddr, "http-addr", "KINSHIP_HTTP_ADDR", ":8080", "listen address")
	f.string(&cfg.Community, "community", "KINSHIP_COMMUNITY", "", "the community this console serves")
	f.string(&cfg.PublicURL, "public-url", "KINSHIP_CONSOLE_PUBLIC_URL", "", "the console's address in browsers, such as https://demo.example.org (http only on loopback)")
	f.string(&cfg.Auth.Issuer, "auth-issuer", "AUTH_ISSUER", "", "OIDC issuer people sign in at; the APIs trust its tokens")
	f.string(&cfg.Auth.Audience, "auth-audience", "AUTH_AUDIENCE", "kinship", "audience of the access tokens the APIs accept")
	f.string(&cfg.ClientID, "client-id", "KINSHIP_CONSOLE_CLIENT_ID", "kinship-console", "the console's OIDC client id at the issuer")
	f.string(secretFile, "client-secret-file", "KINSHIP_CONSOLE_CLIENT_SECRET_FILE", "", "file holding the OIDC client secret; empty for a public client (PKCE)")
	f.string(&cfg.APIs.Members, "members-url", "KINSHIP_MEMBERS_URL", "", "members API base URL")
	f.string(&cfg.APIs.Events, "events-url", "KINSHIP_EVENTS_URL", "", "events API base URL")
	f.string(&cfg.APIs.Communications, "communications-url", "KINSHIP_COMMUNICATIONS_URL", "", "communications API base URL")
	f.string(&cfg.APIs.Partners, "partners-url", "KINSHIP_PARTNERS_URL", "", "partners API base URL")
	f.string(&cfg.APIs.Journeys, "journeys-url", "KINSHIP_JOURNEYS_URL", "", "journeys API base URL (the worker)")
	f.string(&cfg.APIs.Insights, "insights-url", "KINSHIP_INSIGHTS_URL", "", "insights API base URL; empty shows the dashboard without charts")
	f.string(&cfg.SessionFile, "session-file", "KINSHIP_CONSOLE_SESSION_FILE", "", "keep sessions in this file across restarts (mode 0600); empty keeps them in memory")
}
