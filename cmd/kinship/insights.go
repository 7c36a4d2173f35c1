package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/services/insights"
)

// runInsights runs the insights service, or with "rebuild" asks a running
// one to rebuild a community from the other services' histories.
func runInsights(ctx context.Context, args []string, env envFunc, logger *slog.Logger, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "rebuild" {
		return runInsightsRebuild(ctx, args[1:], env, stdout, os.Stderr)
	}
	var cfg insights.Config
	var tokenFile string
	var creds auth.TokenSource
	return runComponent(ctx, args, env, logger, component{
		name: "insights", defaultAddr: ":8087",
		define: func(f *flags) error {
			f.string(&cfg.DatabaseURL, "database-url", "DATABASE_URL", "", "postgres:// URL or SQLite file path")
			f.string(&cfg.MembersURL, "members-url", "KINSHIP_MEMBERS_URL", "", "members API base URL (verifies API keys; its history rebuilds)")
			f.string(&cfg.EventsURL, "events-url", "KINSHIP_EVENTS_URL", "", "events API base URL (its history rebuilds)")
			f.string(&cfg.CommunicationsURL, "communications-url", "KINSHIP_COMMUNICATIONS_URL", "", "communications API base URL (sends the health report; its history rebuilds)")
			f.string(&cfg.PartnersURL, "partners-url", "KINSHIP_PARTNERS_URL", "", "partners API base URL (its history rebuilds)")
			f.string(&cfg.JourneysURL, "journeys-url", "KINSHIP_JOURNEYS_URL", "", "journeys API base URL (the worker), whose ambassador nominations are counted; empty counts none")
			f.list(&cfg.TimeZones, "time-zone", "KINSHIP_TIME_ZONE", "UTC", "time zone of days, weeks and months: Europe/Berlin for every community, or demo=Europe/Berlin,other=UTC")
			f.string(&cfg.ReportSchedule, "report-schedule", "KINSHIP_REPORT_SCHEDULE", "mon 08:00", "weekly health report slot in each community's time zone, or off")
			f.list(&cfg.AmbassadorQuotas, "ambassador-quotas", "KINSHIP_AMBASSADOR_QUOTAS", "hosted_event:1,referred_member:1", "the ambassador programme's quotas, activity:count")
			defineCredentials(f, &tokenFile)
			return errors.Join(
				f.int(&cfg.SeriesDays, "series-days", "KINSHIP_SERIES_DAYS", 1096, "how many days back series are answered"),
				f.duration(&cfg.GaugeEvery, "gauge-every", "KINSHIP_GAUGE_EVERY", 0, "how often the OpenTelemetry gauges are computed; 0 means 1m"),
				defineAuth(f, &cfg.Auth))
		},
		configure: func(c common) error {
			cfg.HTTPAddr, cfg.Communities, cfg.KafkaBrokers, cfg.KafkaSecurity, cfg.ShutdownTimeout = c.httpAddr, c.communities, c.kafkaBrokers, c.kafkaSecurity, c.shutdownTimeout
			var errs []error
			if cfg.MembersURL != "" || cfg.EventsURL != "" || cfg.CommunicationsURL != "" || cfg.PartnersURL != "" || cfg.JourneysURL != "" {
				var err error
				creds, err = credentials(tokenFile)
				errs = append(errs, err)
			}
			return errors.Join(append(errs, cfg.Validate())...)
		},
		run: func(ctx context.Context, tel *telemetry.Telemetry) error {
			return insights.Run(ctx, cfg, insights.Deps{Logger: logger, Tracer: tel.TracerProvider("kinship-insights"),
				Meter: tel.MeterProvider("kinship-insights"), Credentials: creds})
		},
	})
}

// runInsightsRebuild asks the insights service to rebuild a community and
// prints what it read.
func runInsightsRebuild(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	var url, token, community string
	f := newFlags("insights rebuild", env)
	f.string(&url, "url", "KINSHIP_INSIGHTS_URL", "http://127.0.0.1:8087", "insights API base URL")
	f.secret(&token, "token", "KINSHIP_TOKEN", "bearer token or API key of an organiser or platform admin")
	f.string(&community, "community", "KINSHIP_COMMUNITY", "", "community slug; empty means the token's")
	if err := f.parse(args); err != nil {
		return err
	}
	if token == "" {
		return errors.New("no credentials: set -token or KINSHIP_TOKEN (an organiser's token or API key)")
	}
	client := insightsv1connect.NewInsightsServiceClient(rpc.HTTPClient(0), url, connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(token))))
	stream, err := client.Rebuild(ctx, connect.NewRequest(&insightsv1.RebuildRequest{Community: community}))
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	var res *insightsv1.RebuildResponse
	for stream.Receive() {
		if res = stream.Msg(); !res.GetDone() {
			fmt.Fprintf(stderr, "\rread %d records", res.GetRecordsRead())
		}
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if !res.GetDone() {
		return errors.New("rebuild: the service ended without a result")
	}
	fmt.Fprintln(stderr)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "source\tfacts\trecords\t")
	for _, c := range res.GetCounts() {
		fmt.Fprintf(tw, "%s\t%s\t%d\t\n", c.GetSource(), c.GetKind(), c.GetRecords())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt in %s", res.GetTook().AsDuration().Round(1e6))
	if n := res.GetEstimatedLeaveTimes(); n > 0 {
		fmt.Fprintf(stdout, "; %d members left at a time their history did not give (dated to the day after their last activity)", n)
	}
	_, err = fmt.Fprintln(stdout)
	return err
}
