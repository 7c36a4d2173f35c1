// Command kinship is the one Kinship binary: `kinship dev` runs the whole
// platform on this machine; `kinship members`, `kinship communications` and
// `kinship worker` each run one part against real infrastructure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones validate the same in a bare container image

	"github.com/kinshiphq/kinship/internal/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `kinship — run communities of purpose

Usage:
  kinship dev             run the whole platform here, with embedded Temporal, Kafka and a mail sink
  kinship members         run the members service
  kinship members import  import members from CSV (-h for the columns)
  kinship members export  export members as CSV
  kinship communications  run the communications service
  kinship events          run the events service
  kinship partners        run the partners service
  kinship insights        run the insights service (metrics, cohorts, funnels, goals)
  kinship insights rebuild  rebuild a community's insights from the services' histories
  kinship worker          run the Temporal worker and the journey trigger
  kinship console         run the web console of one community (organisers' and members' pages)
  kinship journeys start  start onboarding journeys for a segment or members, with progress (-h)
  kinship journeys list   list journeys (-status running); also get, nominate, review, roster
  kinship audit           print a community's audit trail across every service (-since 24h)
  kinship dlq list|replay list a dead-letter topic, or replay its records to their topic (-topic <topic>.dlq)
  kinship trace <id>      print a trace of the dev stack as a waterfall; without an id, the recent traces
  kinship bench all       run the benchmarks and write docs/benchmarks.md (-h for each)
  kinship broker          run the in-memory development broker as its own process (for test/chaos; not for production)
  kinship temporal-server run the embedded Temporal dev server as its own process (for test/chaos; not for production)
  kinship version         print the version

Each command takes -h for its flags; every flag can also be set in the
environment (see docs/configuration.md).
`

// shutdownGrace bounds how long a stopping kinship may take.
const shutdownGrace = 30 * time.Second

func main() {
	format := os.Getenv("LOG_FORMAT")
	if format == "" && len(os.Args) > 1 && os.Args[1] == "dev" {
		format = "text" // a person reads these
	}
	logger := newLogger(os.Stderr, os.Getenv("LOG_LEVEL"), format)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
		time.AfterFunc(shutdownGrace, func() {
			logger.Error("shutdown took too long; exiting", "grace_s", shutdownGrace.Seconds())
			os.Exit(2)
		})
	}()
	if err := run(ctx, os.Args[1:], logger, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // the flag package printed the help
		}
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		if isTool(os.Args[1:]) {
			// A person ran it: one plain sentence, not a log record.
			fmt.Fprintf(os.Stderr, "kinship: %v\n", err)
		} else {
			logger.Error("kinship failed", "error", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// isTool reports whether args name a command a person runs and reads (an
// organiser's command), as opposed to a component a cluster runs, whose
// failures are log records.
func isTool(args []string) bool {
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "journeys", "audit", "trace", "bench", "version", "dlq":
		return true
	case "members":
		return len(args) > 1 && (args[1] == "import" || args[1] == "export")
	case "insights":
		return len(args) > 1 && args[1] == "rebuild"
	}
	return false
}

func run(ctx context.Context, args []string, logger *slog.Logger, stdout io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	env := os.Getenv
	switch args[0] {
	case "dev":
		return runDev(ctx, args[1:], env, logger, stdout)
	case "members":
		if len(args) > 1 && args[1] == "import" {
			return runMembersImport(ctx, args[2:], env, stdout, os.Stderr)
		}
		if len(args) > 1 && args[1] == "export" {
			return runMembersExport(ctx, args[2:], env, stdout)
		}
		return runMembers(ctx, args[1:], env, logger)
	case "communications":
		return runCommunications(ctx, args[1:], env, logger)
	case "events":
		return runEvents(ctx, args[1:], env, logger)
	case "partners":
		return runPartners(ctx, args[1:], env, logger)
	case "insights":
		return runInsights(ctx, args[1:], env, logger, stdout)
	case "worker":
		return runWorker(ctx, args[1:], env, logger)
	case "console":
		return runConsole(ctx, args[1:], env, logger)
	case "journeys":
		return runJourneys(ctx, args[1:], env, stdout, os.Stderr)
	case "audit":
		return runAudit(ctx, args[1:], env, stdout)
	case "trace":
		return runTrace(ctx, args[1:], env, stdout)
	case "dlq":
		return runDLQ(ctx, args[1:], env, stdout)
	case "broker":
		return runBroker(ctx, args[1:], env, stdout)
	case "temporal-server":
		return runTemporalServer(ctx, args[1:], env, logger, stdout)
	case "bench":
		return runBench(ctx, args[1:], logger, stdout)
	case "version":
		_, err := fmt.Fprintln(stdout, version)
		return err
	case "help", "-h", "--help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	}
	return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
}

// newLogger builds the process's one logger: JSON unless format is text,
// info unless LOG_LEVEL says otherwise, with trace ids on every record.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(level))); err != nil || level == "" {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if strings.EqualFold(format, "text") {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(telemetry.NewLogHandler(h))
}
