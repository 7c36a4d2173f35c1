package telemetry

import (
	"fmt"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The constructors below are the one way Kinship's code creates metric
// instruments: each takes its unit and description (and, for durations,
// its buckets) from the catalogue, and refuses a name the catalogue does
// not list or lists as another kind. A nil meter provider records nothing.

// Meter returns the meter of scope from mp, or a no-op meter when mp is nil.
func Meter(mp metric.MeterProvider, scope string) metric.Meter {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	return mp.Meter(scope)
}

func spec(name string, kind Kind) (Metric, error) {
	m, err := own(name)
	if err != nil {
		return m, err
	}
	if m.Kind != kind {
		return m, fmt.Errorf("metric %q is a %s in the telemetry catalogue, not a %s", name, m.Kind, kind)
	}
	return m, nil
}

// Int64Counter creates the counter name.
func Int64Counter(meter metric.Meter, name string) (metric.Int64Counter, error) {
	m, err := spec(name, Counter)
	if err != nil {
		return nil, err
	}
	return meter.Int64Counter(m.Name, metric.WithUnit(m.Unit), metric.WithDescription(m.Description))
}

// Float64ObservableCounter creates the cumulative counter name, observed
// by callback.
func Float64ObservableCounter(meter metric.Meter, name string, callback metric.Float64Callback) (metric.Float64ObservableCounter, error) {
	m, err := spec(name, Counter)
	if err != nil {
		return nil, err
	}
	opts := []metric.Float64ObservableCounterOption{metric.WithUnit(m.Unit), metric.WithDescription(m.Description)}
	if callback != nil {
		opts = append(opts, metric.WithFloat64Callback(callback))
	}
	return meter.Float64ObservableCounter(m.Name, opts...)
}

// Float64Histogram creates the histogram name; durations (unit s) get
// DurationBuckets.
func Float64Histogram(meter metric.Meter, name string) (metric.Float64Histogram, error) {
	m, err := spec(name, Histogram)
	if err != nil {
		return nil, err
	}
	opts := []metric.Float64HistogramOption{metric.WithUnit(m.Unit), metric.WithDescription(m.Description)}
	if m.Unit == "s" {
		opts = append(opts, metric.WithExplicitBucketBoundaries(DurationBuckets()...))
	}
	return meter.Float64Histogram(m.Name, opts...)
}

// Int64ObservableGauge creates the gauge name, observed by callback.
func Int64ObservableGauge(meter metric.Meter, name string, callback metric.Int64Callback) (metric.Int64ObservableGauge, error) {
	m, err := spec(name, Gauge)
	if err != nil {
		return nil, err
	}
	opts := []metric.Int64ObservableGaugeOption{metric.WithUnit(m.Unit), metric.WithDescription(m.Description)}
	if callback != nil {
		opts = append(opts, metric.WithInt64Callback(callback))
	}
	return meter.Int64ObservableGauge(m.Name, opts...)
}

// Float64ObservableGauge creates the gauge name, observed by callback.
func Float64ObservableGauge(meter metric.Meter, name string, callback metric.Float64Callback) (metric.Float64ObservableGauge, error) {
	m, err := spec(name, Gauge)
	if err != nil {
		return nil, err
	}
	opts := []metric.Float64ObservableGaugeOption{metric.WithUnit(m.Unit), metric.WithDescription(m.Description)}
	if callback != nil {
		opts = append(opts, metric.WithFloat64Callback(callback))
	}
	return meter.Float64ObservableGauge(m.Name, opts...)
}

// Int64ObservableUpDownCounter creates the up-down counter name, observed
// by callback.
func Int64ObservableUpDownCounter(meter metric.Meter, name string, callback metric.Int64Callback) (metric.Int64ObservableUpDownCounter, error) {
	m, err := spec(name, UpDownCounter)
	if err != nil {
		return nil, err
	}
	opts := []metric.Int64ObservableUpDownCounterOption{metric.WithUnit(m.Unit), metric.WithDescription(m.Description)}
	if callback != nil {
		opts = append(opts, metric.WithInt64Callback(callback))
	}
	return meter.Int64ObservableUpDownCounter(m.Name, opts...)
}
