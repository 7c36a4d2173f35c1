package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// WriterConfig configures a Writer.
type WriterConfig struct {
	Brokers []string
	// BatchTimeout is how long a partial batch waits for more records.
	// kafka-go's own default of 1 s makes every synchronous write take a
	// second; 0 here means 5 ms.
	BatchTimeout time.Duration
	// BatchSize is the most records sent to one partition at once; 0 means 100.
	BatchSize int
	// Security protects the writer's connections; zero means plaintext.
	Security Security
}

// NewWriter returns a synchronous writer that waits for all in-sync
// replicas, places records by key with the Java client's murmur2 hash (so
// order per key holds and other clients agree on partitions), and leaves
// topic creation to the platform.
//
// A writer with Security set has a connection pool of its own, which
// kafka-go's Writer.Close does not release: make such writers once per
// process, as the services do, not per request.
func NewWriter(cfg WriterConfig) *kafkago.Writer {
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = 5 * time.Millisecond
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 100
	}
	w := &kafkago.Writer{
		Addr:                   kafkago.TCP(cfg.Brokers...),
		Balancer:               &kafkago.Murmur2Balancer{},
		RequiredAcks:           kafkago.RequireAll,
		BatchTimeout:           cfg.BatchTimeout,
		BatchSize:              cfg.BatchSize,
		MaxAttempts:            3,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
		ReadTimeout:            10 * time.Second,
		WriteTimeout:           10 * time.Second,
		AllowAutoTopicCreation: false,
	}
	if t := cfg.Security.transport(); t != nil {
		w.Transport = t // a nil *Transport in the interface would not mean the default
	}
	return w
}

// Topic describes a topic to create.
type Topic struct {
	Name              string
	Partitions        int
	ReplicationFactor int
}

// EnsureTopics creates the topics that do not exist yet.
func EnsureTopics(ctx context.Context, brokers []string, sec Security, topics ...Topic) error {
	client, done := newClient(brokers, sec, 10*time.Second)
	defer done()
	req := &kafkago.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafkago.TopicConfig{Topic: t.Name, NumPartitions: t.Partitions, ReplicationFactor: t.ReplicationFactor})
	}
	res, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", sec.explain(err))
	}
	var errs []error
	for name, terr := range res.Errors {
		if terr != nil && !errors.Is(terr, kafkago.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", name, terr))
		}
	}
	return errors.Join(errs...)
}

// Ping checks that the cluster answers a metadata request.
func Ping(ctx context.Context, brokers []string, sec Security) error {
	client, done := newClient(brokers, sec, 5*time.Second)
	defer done()
	if _, err := client.Metadata(ctx, &kafkago.MetadataRequest{}); err != nil {
		return fmt.Errorf("kafka metadata: %w", sec.explain(err))
	}
	return nil
}

// newClient returns an admin client for brokers and a function releasing
// its connections.
func newClient(brokers []string, sec Security, timeout time.Duration) (*kafkago.Client, func()) {
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: timeout}
	t := sec.transport()
	if t == nil {
		return client, func() {}
	}
	client.Transport = t
	return client, t.CloseIdleConnections
}
