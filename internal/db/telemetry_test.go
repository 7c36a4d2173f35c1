package db_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/telemetry/telemetrytest"
)

func TestInstrumentedDatabaseMeasuresPoolAndTransactions(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			d := openEngine(t, engine)
			tel, err := telemetry.New(context.Background(), telemetry.Config{})
			if err != nil {
				t.Fatal(err)
			}
			mp := tel.MeterProvider("kinship-test")
			if err := d.Instrument(mp, "members"); err != nil {
				t.Fatal(err)
			}
			if d.MeterProvider() != mp {
				t.Error("the database does not hand on its meter provider")
			}
			ctx := context.Background()
			insert := d.Rebind("INSERT INTO things (id, name, created_at) VALUES (?, ?, ?)")
			if err := d.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, insert, "1", "first", time.Now())
				return err
			}); err != nil {
				t.Fatal(err)
			}
			refused := errors.New("refused")
			if err := d.InTx(ctx, func(*sql.Tx) error { return refused }); !errors.Is(err, refused) {
				t.Fatalf("InTx = %v", err)
			}
			func() {
				defer func() { _ = recover() }()
				_ = d.InTx(ctx, func(*sql.Tx) error { panic("boom") })
			}()
			system := map[string]string{"sqlite": "sqlite", "postgres": "postgresql"}[engine]
			got := telemetrytest.Scrape(t, telemetry.MetricsHandler(mp))
			tx := []string{"db_system_name", system, "db_client_connection_pool_name", "members"}
			if n := got.Sum("kinship_db_transaction_duration_seconds_count", append(tx, "kinship_outcome", "commit")...); n != 1 {
				t.Errorf("committed transactions = %v, want 1\n%s", n, got)
			}
			if n := got.Sum("kinship_db_transaction_duration_seconds_count", append(tx, "kinship_outcome", "rollback")...); n != 2 {
				t.Errorf("rolled back transactions = %v, want the error's and the panic's 2\n%s", n, got)
			}
			pool := []string{"db_client_connection_pool_name", "members"}
			if n := got.Sum("db_client_connection_count", pool...); n < 1 {
				t.Errorf("pool connections = %v, want at least the one used\n%s", n, got)
			}
			if !got.Has("db_client_connection_max", pool...) || !got.Has("kinship_db_pool_wait_time_seconds_total", pool...) {
				t.Errorf("pool size or wait time missing\n%s", got)
			}
		})
	}
}
