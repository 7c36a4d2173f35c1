package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

// Gauges export the catalogue's metrics as OpenTelemetry gauges, one
// instrument per metric (kinship.insights.<name>) with the attribute
// community (and the breakdown's, such as channel): levels as they are
// today, counts summed and shares and means taken over the last 30 days.
// Goals are kinship.insights.goal.progress with community, goal and
// status. Values are computed by Refresh and only read by the exporter.
type Gauges struct {
	engine *Engine
	logger *slog.Logger

	mu     sync.Mutex
	values map[string][]observation
}

type observation struct {
	value float64
	attrs attribute.Set
}

// goalGauge is the name of the goals' gauge.
const goalGauge = "kinship.insights.goal.progress"

// NewGauges registers the gauges with meter.
func NewGauges(e *Engine, meter metric.Meter, logger *slog.Logger) (*Gauges, error) {
	g := &Gauges{engine: e, logger: logger, values: map[string][]observation{}}
	var instruments []metric.Observable
	byName := map[string]metric.Float64ObservableGauge{}
	for _, m := range domain.Catalogue() {
		inst, err := meter.Float64ObservableGauge("kinship.insights."+m.Name, metric.WithDescription(m.Title+": "+m.Meaning), metric.WithUnit(otelUnit(m.Unit)))
		if err != nil {
			return nil, fmt.Errorf("gauge %s: %w", m.Name, err)
		}
		byName[m.Name] = inst
		instruments = append(instruments, inst)
	}
	goals, err := meter.Float64ObservableGauge(goalGauge, metric.WithDescription("Each goal's progress from its baseline to its target (1 reaches it)"), metric.WithUnit("1"))
	if err != nil {
		return nil, fmt.Errorf("gauge %s: %w", goalGauge, err)
	}
	byName[goalGauge] = goals
	instruments = append(instruments, goals)
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		g.mu.Lock()
		defer g.mu.Unlock()
		for name, obs := range g.values {
			for _, v := range obs {
				o.ObserveFloat64(byName[name], v.value, metric.WithAttributeSet(v.attrs))
			}
		}
		return nil
	}, instruments...)
	return g, err
}

func otelUnit(u string) string {
	switch u {
	case "ratio":
		return "1"
	case "days":
		return "d"
	case "hours":
		return "h"
	}
	return "{" + strings.ReplaceAll(strings.Fields(u)[0], " ", "_") + "}"
}

// Refresh computes every gauge of every community; when it fails, the
// gauges keep their last values until the next refresh.
func (g *Gauges) Refresh(ctx context.Context) {
	next := map[string][]observation{}
	for _, c := range g.engine.store.Communities() {
		if err := g.community(ctx, c, next); err != nil {
			if ctx.Err() == nil {
				g.logger.WarnContext(ctx, "refreshing insights gauges failed", "community", c, "error", err)
			}
			return
		}
	}
	g.mu.Lock()
	g.values = next
	g.mu.Unlock()
}

// Current is a metric's current value per breakdown value ("" the total),
// as the gauges export it.
func (g *Gauges) Current(ctx context.Context, community string, m domain.Metric) (map[string]float64, error) {
	today, loc, err := g.engine.today(community)
	if err != nil {
		return nil, err
	}
	from := today - domain.ActiveWindow + 1
	switch m.Special {
	case domain.SpecialTimeToFirstEvent:
		samples, err := g.engine.firstEventSamples(ctx, community, loc, from, today)
		if err != nil {
			return nil, err
		}
		vs := make([]float64, len(samples))
		for i, s := range samples {
			vs[i] = s.Value
		}
		return map[string]float64{"": domain.Quantile(vs, m.Quantile)}, nil
	case domain.SpecialQuota:
		pts, err := g.engine.quotaPoints(ctx, community, loc, []domain.Period{{Start: from, End: today}}, today)
		if err != nil {
			return nil, err
		}
		return map[string]float64{"": pts[0].Value}, nil
	}
	daily, err := g.engine.daily(ctx, community, m, domain.Segment{}, from, today)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, dim := range dims(m, daily) {
		pts := domain.Aggregate(m, daily[dim], []domain.Period{{Start: from, End: today}}, today)
		if m.Kind == domain.KindStock {
			pts = domain.Aggregate(m, daily[dim], []domain.Period{{Start: today, End: today}}, today)
		}
		out[dim] = pts[0].Value
	}
	return out, nil
}

func (g *Gauges) community(ctx context.Context, c string, next map[string][]observation) error {
	for _, m := range domain.Catalogue() {
		vals, err := g.Current(ctx, c, m)
		if err != nil {
			return err
		}
		for dim, v := range vals {
			kvs := []attribute.KeyValue{attribute.String("community", c)}
			if m.Breakdown != "" {
				if dim == "" {
					dim = "total"
				}
				kvs = append(kvs, attribute.String(m.Breakdown, dim))
			}
			next[m.Name] = append(next[m.Name], observation{value: v, attrs: attribute.NewSet(kvs...)})
		}
	}
	goals, err := g.engine.store.Goals(ctx, c, false)
	if err != nil {
		return err
	}
	for _, goal := range goals {
		p, err := g.engine.Progress(ctx, goal)
		if err != nil {
			return err
		}
		next[goalGauge] = append(next[goalGauge], observation{value: p.Progress, attrs: attribute.NewSet(
			attribute.String("community", c), attribute.String("goal", goal.Name), attribute.String("status", string(p.Status)))})
	}
	return nil
}
