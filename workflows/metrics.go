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
// kind and status, counted by Temporal's visibility every 15 s in a
// goroutine of its own (a failed count keeps the last). The metrics
// callback only reads the last counts: counting inside it would call
// Temporal during a collection, and the Temporal client records its own
// metrics into the same pipeline, which the collection holds — a deadlock.
type journeyCounts struct {
	clients map[string]client.Client
	logger  *slog.Logger

	mu     sync.Mutex
	counts []journeyCount
}

type journeyCount struct {
	community, kind, status string
	n                       int64
}

// journeyCountEvery is how often the journeys are counted.
const journeyCountEvery = 15 * time.Second

// observeJourneys registers kinship.journeys with mp and counts the
// journeys until ctx ends; done is closed when counting has stopped.
// Unregister it and wait for done before the clients close.
func observeJourneys(ctx context.Context, mp metric.MeterProvider, clients map[string]client.Client, logger *slog.Logger) (reg metric.Registration, done <-chan struct{}, err error) {
	meter := telemetry.Meter(mp, "github.com/kinshiphq/kinship/workflows")
	gauge, err := telemetry.Int64ObservableGauge(meter, telemetry.MetricJourneys, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("worker: journey metrics: %w", err)
	}
	j := &journeyCounts{clients: clients, logger: logger}
	reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, c := range j.last() {
			o.ObserveInt64(gauge, c.n, metric.WithAttributes(attribute.String(telemetry.AttrCommunity, c.community),
				attribute.String(telemetry.AttrJourneyKind, c.kind), attribute.String(telemetry.AttrJourneyStat, c.status)))
		}
		return nil
	}, gauge)
	if err != nil {
		return nil, nil, fmt.Errorf("worker: journey metrics: %w", err)
	}
	stopped := make(chan struct{})
	go j.run(ctx, stopped)
	return reg, stopped, nil
}

// run counts the journeys now and every journeyCountEvery until ctx ends,
// then closes stopped.
func (j *journeyCounts) run(ctx context.Context, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(journeyCountEvery)
	defer t.Stop()
	for {
		j.count(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (j *journeyCounts) last() []journeyCount {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.counts
}

// count asks Temporal for each community's journeys by kind and status
// and keeps the answer; a failure keeps the last counts.
func (j *journeyCounts) count(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var counts []journeyCount
	for community, c := range j.clients {
		for _, kind := range journeyKinds() {
			res, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
				Query: fmt.Sprintf("WorkflowType = '%s' GROUP BY ExecutionStatus", kind),
			})
			if err != nil {
				if ctx.Err() == nil {
					j.logger.DebugContext(ctx, "counting journeys failed", "community", community, "kind", kind, "error", err)
				}
				return
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
	j.mu.Lock()
	j.counts = counts
	j.mu.Unlock()
}
