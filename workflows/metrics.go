package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/converter"

	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/digest"
	"github.com/kinshiphq/kinship/workflows/erasure"
	"github.com/kinshiphq/kinship/workflows/eventlifecycle"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// temporalMetrics hands the Temporal SDK's metrics (workflow and activity
// latency, task-queue backlog, requests) to the worker's meter provider,
// as monotonic counters and histograms in seconds.
func temporalMetrics(mp metric.MeterProvider, logger *slog.Logger) client.MetricsHandler {
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                telemetry.Meter(mp, "go.temporal.io/sdk"),
		UseMonotonicCounters: true,
		OnError: func(err error) {
			logger.Warn("temporal sdk metric not recorded", "error", err)
		},
	})
}

// journeyKinds are the workflow types counted by kinship.journeys.
func journeyKinds() []string {
	return []string{onboarding.WorkflowName, ambassador.WorkflowName, eventlifecycle.WorkflowName, digest.WorkflowName, erasure.WorkflowName}
}

// journeyCounts observes kinship.journeys: each community's workflows by
// kind and status, counted by Temporal's visibility when metrics are
// collected (at most every 15 s; a failed count keeps the last).
type journeyCounts struct {
	clients map[string]client.Client
	logger  *slog.Logger

	mu     sync.Mutex
	counts []journeyCount
	at     time.Time
}

type journeyCount struct {
	community, kind, status string
	n                       int64
}

// observeJourneys registers kinship.journeys with mp; unregister it when
// the clients close.
func observeJourneys(mp metric.MeterProvider, clients map[string]client.Client, logger *slog.Logger) (metric.Registration, error) {
	meter := telemetry.Meter(mp, "github.com/kinshiphq/kinship/workflows")
	gauge, err := telemetry.Int64ObservableGauge(meter, telemetry.MetricJourneys, nil)
	if err != nil {
		return nil, fmt.Errorf("worker: journey metrics: %w", err)
	}
	j := &journeyCounts{clients: clients, logger: logger}
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		for _, c := range j.current(ctx) {
			o.ObserveInt64(gauge, c.n, metric.WithAttributes(attribute.String(telemetry.AttrCommunity, c.community),
				attribute.String(telemetry.AttrJourneyKind, c.kind), attribute.String(telemetry.AttrJourneyStat, c.status)))
		}
		return nil
	}, gauge)
}

func (j *journeyCounts) current(ctx context.Context) []journeyCount {
	j.mu.Lock()
	defer j.mu.Unlock()
	if time.Since(j.at) < 15*time.Second {
		return j.counts
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var counts []journeyCount
	for community, c := range j.clients {
		for _, kind := range journeyKinds() {
			res, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
				Query: fmt.Sprintf("WorkflowType = '%s' GROUP BY ExecutionStatus", kind),
			})
			if err != nil {
				j.logger.DebugContext(ctx, "counting journeys failed", "community", community, "kind", kind, "error", err)
				return j.counts
			}
			for _, g := range res.GetGroups() {
				status := "Unknown"
				if vals := g.GetGroupValues(); len(vals) == 1 {
					var s string
					if err := converter.GetDefaultDataConverter().FromPayload(vals[0], &s); err == nil {
						status = s
					}
				}
				counts = append(counts, journeyCount{community: community, kind: kind, status: status, n: g.GetCount()})
			}
		}
	}
	j.counts, j.at = counts, time.Now()
	return counts
}
