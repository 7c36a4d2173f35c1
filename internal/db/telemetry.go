package db

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/kinshiphq/kinship/internal/telemetry"
)

const scope = "github.com/kinshiphq/kinship/internal/db"

// instruments record a DB's pool and transactions.
type instruments struct {
	mp           metric.MeterProvider
	txDuration   metric.Float64Histogram
	commit       metric.MeasurementOption
	rollback     metric.MeasurementOption
	registration metric.Registration
}

// Instrument records the pool's connections (db.client.connection.count
// and .max, kinship.db.pool.wait_time) and the duration of every InTx
// with mp, as pool pool (the component's name). The outbox and inbox of d
// record their own metrics with mp too (MeterProvider). Call it once,
// before d is used; Close stops the pool's observation.
func (d *DB) Instrument(mp metric.MeterProvider, pool string) error {
	meter := telemetry.Meter(mp, scope)
	system := "sqlite"
	if d.Dialect == Postgres {
		system = "postgresql"
	}
	poolAttr := attribute.String("db.client.connection.pool.name", pool)
	in := &instruments{mp: mp,
		commit:   metric.WithAttributeSet(attribute.NewSet(attribute.String("db.system.name", system), poolAttr, attribute.String(telemetry.AttrOutcome, "commit"))),
		rollback: metric.WithAttributeSet(attribute.NewSet(attribute.String("db.system.name", system), poolAttr, attribute.String(telemetry.AttrOutcome, "rollback"))),
	}
	var err error
	if in.txDuration, err = telemetry.Float64Histogram(meter, telemetry.MetricDBTransactionTime); err != nil {
		return err
	}
	count, err := telemetry.Int64ObservableUpDownCounter(meter, telemetry.MetricDBConnections, nil)
	if err != nil {
		return err
	}
	maxOpen, err := telemetry.Int64ObservableUpDownCounter(meter, telemetry.MetricDBConnectionsMax, nil)
	if err != nil {
		return err
	}
	wait, err := telemetry.Float64ObservableCounter(meter, telemetry.MetricDBPoolWaitTime, nil)
	if err != nil {
		return err
	}
	idle := metric.WithAttributes(poolAttr, attribute.String("db.client.connection.state", "idle"))
	used := metric.WithAttributes(poolAttr, attribute.String("db.client.connection.state", "used"))
	onPool := metric.WithAttributes(poolAttr)
	in.registration, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := d.Stats()
		o.ObserveInt64(count, int64(st.Idle), idle)
		o.ObserveInt64(count, int64(st.InUse), used)
		o.ObserveInt64(maxOpen, int64(st.MaxOpenConnections), onPool)
		o.ObserveFloat64(wait, st.WaitDuration.Seconds(), onPool)
		return nil
	}, count, maxOpen, wait)
	if err != nil {
		return err
	}
	d.telemetry = in
	return nil
}

// MeterProvider is the meter provider d was instrumented with, or nil.
func (d *DB) MeterProvider() metric.MeterProvider {
	if d.telemetry == nil {
		return nil
	}
	return d.telemetry.mp
}

// transaction records one InTx; a panic passing through is passed on.
func (in *instruments) transaction(ctx context.Context, start time.Time, err error, panicked any) {
	outcome := in.commit
	if err != nil || panicked != nil {
		outcome = in.rollback
	}
	in.txDuration.Record(context.WithoutCancel(ctx), time.Since(start).Seconds(), outcome)
	if panicked != nil {
		panic(panicked)
	}
}

// Close stops observing the pool and closes it.
func (d *DB) Close() error {
	if d.telemetry != nil {
		_ = d.telemetry.registration.Unregister()
	}
	return d.DB.Close()
}
