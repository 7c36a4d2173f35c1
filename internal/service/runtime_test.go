package service

import (
	"context"
	"database/sql"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
	"github.com/kinshiphq/kinship/internal/outbox"
	"github.com/kinshiphq/kinship/internal/serve"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/telemetry/telemetrytest"
)

// A service on the Runtime serves its metrics — database, outbox, inbox,
// feeds, HTTP — on its own port, under its own name, without wiring any.
func TestRuntimeServesTheServicesMetrics(t *testing.T) {
	brokers := kafkatest.Start(t)
	const topic = "demo.things.v1"
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, brokers, kafka.Security{}, kafka.Topic{Name: topic, Partitions: 1, ReplicationFactor: 1},
		kafka.Topic{Name: kafka.DeadLetterTopic(topic), Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.New(ctx, telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	rt, err := NewRuntime(ctx, RuntimeConfig{Name: "things", DatabaseURL: filepath.Join(t.TempDir(), "things.db"),
		Migrations: []db.Migrations{outbox.Migrations(), inbox.Migrations()}, KafkaBrokers: brokers, Listener: ln,
		Logger: logger, Tracer: tel.TracerProvider("kinship-things")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	in := inbox.New(rt.DB)
	handled := make(chan string, 4)
	feed := Feed{Name: "things: feed", Group: "kinship-things", Topics: func(c string) []string { return []string{c + ".things.v1"} },
		Handle: func(ctx context.Context, e kafka.Event) error {
			_, err := in.Handle(ctx, "things", e.ID, func(*sql.Tx) error { return nil })
			handled <- e.ID
			return err
		}}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(runCtx, rt.Consume([]string{"demo"}, feed)) }()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()
	readyCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if err := serve.WaitReady(readyCtx, base); err != nil {
		t.Fatal(err)
	}
	e := kafka.Event{ID: "e1", Type: "kinship.test.v1.Thing", Source: "/test", ContentType: kafka.ContentTypeProtobuf, Topic: topic, Key: "k", Data: []byte("x")}
	if err := rt.DB.InTx(ctx, func(tx *sql.Tx) error { return rt.Outbox.Append(ctx, tx, e) }); err != nil {
		t.Fatal(err)
	}
	rt.Outbox.Notify()
	select {
	case <-handled:
	case <-time.After(15 * time.Second):
		t.Fatal("the event was not consumed")
	}
	if res, err := http.Get(base + "/nowhere"); err == nil {
		res.Body.Close()
	}
	me := []string{"service_name", "kinship-things"}
	names := []string{"kinship_db_transaction_duration_seconds_count", "db_client_connection_max",
		"messaging_client_sent_messages_total", "kinship_outbox_pending", "messaging_client_consumed_messages_total",
		"messaging_process_duration_seconds_count", "http_server_request_duration_seconds_count"}
	// The relay counts a sent record once the broker acknowledged it,
	// which may come after the consumer already handled it: scrape until
	// every series is there, or the deadline.
	got := telemetrytest.Get(t, base+"/metrics")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); got = telemetrytest.Get(t, base+"/metrics") {
		missing := false
		for _, name := range names {
			missing = missing || !got.Has(name, me...)
		}
		if !missing {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, name := range names {
		if !got.Has(name, me...) {
			t.Errorf("GET /metrics lacks %s of the service\n%s", name, got)
		}
	}
}
