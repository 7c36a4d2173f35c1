//go:build !nodev

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/telemetry"
)

func runDev(ctx context.Context, args []string, env envFunc, logger *slog.Logger, stdout io.Writer) error {
	cfg := devstack.DefaultConfig()
	var otlp string
	var reset bool
	f := newFlags("dev", env)
	f.string(&cfg.DataDir, "data-dir", "KINSHIP_DATA_DIR", cfg.DataDir, "folder holding every database, the broker's log and the mail")
	f.list(&cfg.Communities, "communities", "KINSHIP_COMMUNITIES", strings.Join(cfg.Communities, ","), "communities to seed")
	f.list(&cfg.KafkaBrokers, "kafka-brokers", "KAFKA_BROKERS", "", "use this Kafka instead of the embedded broker")
	var kafkaSec kafkaSecuritySettings
	if err := defineKafkaSecurity(f, &kafkaSec); err != nil {
		return err
	}
	f.string(&otlp, "otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "", "OTLP/gRPC collector URL for traces and metrics, besides the trace viewer")
	if err := f.duration(&cfg.OnboardingReminderAfter, "onboarding-reminder-after", "KINSHIP_ONBOARDING_REMINDER_AFTER", 0, "profile reminder delay; 0 means 48h"); err != nil {
		return err
	}
	var memoryLimit string
	f.string(&memoryLimit, "memory-limit", "KINSHIP_DEV_MEMORY_LIMIT", devMemoryLimit,
		"soft limit on the Go runtime's memory, such as 240MiB or 1GiB, or off; GOMEMLIMIT, when set, wins")
	f.fs.BoolVar(&reset, "reset", false, "delete the data folder first")
	f.fs.IntVar(&cfg.MembersPort, "members-port", cfg.MembersPort, "members API port")
	f.fs.IntVar(&cfg.CommunicationsPort, "communications-port", cfg.CommunicationsPort, "communications API port")
	f.fs.IntVar(&cfg.EventsPort, "events-port", cfg.EventsPort, "events API port")
	f.fs.IntVar(&cfg.PartnersPort, "partners-port", cfg.PartnersPort, "partners API port")
	f.fs.IntVar(&cfg.InsightsPort, "insights-port", cfg.InsightsPort, "insights API port")
	f.fs.IntVar(&cfg.WorkerPort, "worker-port", cfg.WorkerPort, "worker health port")
	f.fs.IntVar(&cfg.TemporalPort, "temporal-port", cfg.TemporalPort, "Temporal frontend port")
	f.fs.IntVar(&cfg.KafkaPort, "kafka-port", cfg.KafkaPort, "embedded Kafka broker port")
	f.fs.IntVar(&cfg.SMTPPort, "smtp-port", cfg.SMTPPort, "mail sink SMTP port")
	f.fs.IntVar(&cfg.MailHTTPPort, "mail-port", cfg.MailHTTPPort, "mail sink HTTP port")
	f.fs.IntVar(&cfg.IssuerPort, "issuer-port", cfg.IssuerPort, "local token issuer port")
	f.fs.IntVar(&cfg.ConsolePort, "console-port", cfg.ConsolePort, "web console port")
	f.fs.IntVar(&cfg.TracesPort, "traces-port", cfg.TracesPort, "trace viewer port")
	f.fs.IntVar(&cfg.TemporalUIPort, "temporal-ui-port", cfg.TemporalUIPort, "Temporal Web UI port")
	if err := f.parse(args); err != nil {
		return err
	}
	if err := applyMemoryLimit(memoryLimit, env("GOMEMLIMIT")); err != nil {
		return err
	}
	if kafkaSec.configured() && len(cfg.KafkaBrokers) == 0 {
		return errors.New("configuration: kafka TLS and SASL settings apply only with -kafka-brokers; the embedded broker is plaintext")
	}
	var err error
	if cfg.KafkaSecurity, err = kafkaSec.build(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	warnInsecureKafka(logger, cfg.KafkaSecurity)
	if reset {
		if err := os.RemoveAll(cfg.DataDir); err != nil {
			return fmt.Errorf("reset %s: %w", cfg.DataDir, err)
		}
	}
	tel, err := telemetry.New(ctx, telemetry.Config{OTLPEndpoint: otlp, Version: version})
	if err != nil {
		return err
	}
	defer func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }()
	return devstack.Run(ctx, cfg, devstack.Deps{Logger: logger, Telemetry: tel}, func(ep devstack.Endpoints) {
		printBanner(stdout, cfg.DataDir, ep)
	})
}

func printBanner(w io.Writer, dataDir string, ep devstack.Endpoints) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	demo := ep.Communities[0]
	fmt.Fprintf(w, "\nKinship is running. Data: %s (a restart keeps it; Ctrl-C stops everything)\n\n", abs)
	fmt.Fprintf(w, "  Console: %s\n  Sign in as the %s organiser with one click: %s\n\n", ep.Console, demo, ep.ConsoleSignIn)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  members API\t%s\n", ep.Members)
	fmt.Fprintf(tw, "  communications API\t%s\n", ep.Communications)
	fmt.Fprintf(tw, "  events API\t%s\t(calendar: %s/calendar/%s.ics)\n", ep.Events, ep.Events, demo)
	fmt.Fprintf(tw, "  partners API\t%s\n", ep.Partners)
	fmt.Fprintf(tw, "  insights API\t%s\t(metrics, cohorts, funnel, goals; docs/insights.md)\n", ep.Insights)
	fmt.Fprintf(tw, "  journeys API (worker)\t%s\t(kinship journeys list)\n", ep.Worker)
	fmt.Fprintf(tw, "  mail\t%s\t(what was sent; JSON at /api/messages; SMTP on %s)\n", ep.Mail, ep.SMTP)
	fmt.Fprintf(tw, "  traces\t%s\t(every span and its logs; kinship trace <id>)\n", ep.Traces)
	fmt.Fprintf(tw, "  Temporal Web UI\t%s\t(journeys' workflows)\n", ep.TemporalUI)
	fmt.Fprintf(tw, "  Temporal\t%s\t(namespaces: %s)\n", ep.Temporal, strings.Join(ep.Communities, ", "))
	fmt.Fprintf(tw, "  Kafka\t%s\t(topics: %[2]s.members.v1, %[2]s.events.v1, %[2]s.communications.v1, %[2]s.partners.v1)\n", strings.Join(ep.Kafka, ","), demo)
	fmt.Fprintf(tw, "  token issuer\t%s\t(development only)\n", ep.Issuer)
	_ = tw.Flush()
	fmt.Fprintf(w, "\n  Every API and the worker serve their metrics as Prometheus text at /metrics (%s/metrics);\n"+
		"  every API answer names its trace in the X-Trace-Id header.\n", ep.Members)
	fmt.Fprintf(w, `
Join the %[1]s community:

  curl -sS -X POST %[2]s/kinship.members.v1.MembersService/JoinCommunity \
    -H 'Content-Type: application/json' \
    -d '{"community":"%[1]s","email":"ada@example.org","displayName":"Ada Lovelace","interests":["solar"],"emailConsent":true}'

The answer is {"confirmationSent":true}, whether or not the address was
already a member. Read the confirmation e-mail and open its link (a page
with a button: only the button confirms); the welcome e-mail follows:

  %[3]s/?to=ada@example.org   (or curl -sS '%[3]s/api/messages?to=ada@example.org')

Then follow the join from the API through Kafka and the worker to the
e-mail in %[8]s, or in the terminal: kinship trace <X-Trace-Id>.

Everything else needs a bearer token. The %[1]s organiser's and a member's,
valid for 30 days, are in %[4]s:

  export KINSHIP_TOKEN=$(cat %[5]s)   # organiser
  curl -sS -X POST %[2]s/kinship.members.v1.MembersService/ListMembers \
    -H "Authorization: Bearer $KINSHIP_TOKEN" -H 'Content-Type: application/json' -d '{}'

  organiser: %[6]s
  member:    %[7]s

`, demo, ep.Members, ep.Mail, ep.TokenDir, filepath.Join(ep.TokenDir, demo+"-organiser.jwt"),
		ep.Tokens[auth.Organiser], ep.Tokens[auth.Member], ep.Traces)
}
