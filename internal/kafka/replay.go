package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// DeadLetter is one record of a dead-letter topic, as the consumer that gave
// up on it wrote it.
type DeadLetter struct {
	// Partition and Offset place the record in the dead-letter topic; ID
	// ("<partition>:<offset>") names it there.
	Partition int
	Offset    int64
	ID        string
	// Topic is the topic the record came from and is replayed to.
	Topic string
	// Reason, Consumer, SourcePartition and SourceOffset are the DLQ
	// headers: why and by whom it was dead-lettered, and where it was.
	Reason, Consumer              string
	SourcePartition, SourceOffset string
	// EventID and EventType are the CloudEvent's, when the record is one.
	EventID, EventType string
	Time               time.Time
	Key, Value         []byte
	// Headers are the record's original headers, without the DLQ ones.
	Headers []kafkago.Header
}

// Matches reports whether ref names d: its ID in the dead-letter topic
// ("<partition>:<offset>") or its CloudEvent id.
func (d DeadLetter) Matches(ref string) bool {
	return ref == d.ID || (d.EventID != "" && ref == d.EventID)
}

// Message returns the record that replays d: its original topic, key,
// value and headers, without the DLQ headers.
func (d DeadLetter) Message() kafkago.Message {
	return kafkago.Message{Topic: d.Topic, Key: d.Key, Value: d.Value, Headers: slices.Clone(d.Headers)}
}

// isDLQHeader reports whether key is one of the headers a consumer adds
// when it dead-letters a record.
func isDLQHeader(key string) bool {
	switch key {
	case HeaderDLQReason, HeaderDLQTopic, HeaderDLQPartition, HeaderDLQOffset, HeaderDLQConsumer:
		return true
	}
	return false
}

// SourceTopic returns the topic whose dead letters dlqTopic holds, or an
// error when dlqTopic is not a dead-letter topic.
func SourceTopic(dlqTopic string) (string, error) {
	source, ok := strings.CutSuffix(dlqTopic, ".dlq")
	if !ok || source == "" {
		return "", fmt.Errorf("%q is not a dead-letter topic (<topic>.dlq)", dlqTopic)
	}
	return source, nil
}

// parseDeadLetter reads msg, a record of the dead-letter topic of source.
// A record whose kinship_dlq_topic names another topic is refused: replay
// only ever writes to the topic the dead-letter topic belongs to.
func parseDeadLetter(msg kafkago.Message, source string) (DeadLetter, error) {
	d := DeadLetter{
		Partition: msg.Partition, Offset: msg.Offset,
		ID:    strconv.Itoa(msg.Partition) + ":" + strconv.FormatInt(msg.Offset, 10),
		Topic: source, Time: msg.Time, Key: msg.Key, Value: msg.Value,
	}
	origin := ""
	for _, h := range msg.Headers {
		switch h.Key {
		case HeaderDLQReason:
			d.Reason = string(h.Value)
		case HeaderDLQTopic:
			origin = string(h.Value)
		case HeaderDLQPartition:
			d.SourcePartition = string(h.Value)
		case HeaderDLQOffset:
			d.SourceOffset = string(h.Value)
		case HeaderDLQConsumer:
			d.Consumer = string(h.Value)
		case HeaderID:
			d.EventID = string(h.Value)
		case HeaderType:
			d.EventType = string(h.Value)
		}
		if !isDLQHeader(h.Key) {
			d.Headers = append(d.Headers, kafkago.Header{Key: h.Key, Value: slices.Clone(h.Value)})
		}
	}
	if origin != "" && origin != source {
		return d, fmt.Errorf("dead letter %s says it came from %q, not %q", d.ID, origin, source)
	}
	return d, nil
}

// ReadDeadLetters returns every record of dlqTopic, partition by partition
// in offset order. It reads up to the end each partition has when it
// starts, so it ends even while consumers go on dead-lettering.
func ReadDeadLetters(ctx context.Context, brokers []string, sec Security, dlqTopic string) ([]DeadLetter, error) {
	source, err := SourceTopic(dlqTopic)
	if err != nil {
		return nil, err
	}
	client, done := newClient(brokers, sec, 10*time.Second)
	defer done()
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{dlqTopic}})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", sec.explain(err))
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		var terr error
		if len(meta.Topics) == 1 {
			terr = meta.Topics[0].Error
		}
		return nil, fmt.Errorf("topic %s: %w", dlqTopic, errors.Join(terr, errors.New("not found")))
	}
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for _, p := range meta.Topics[0].Partitions {
		req.Topics[dlqTopic] = append(req.Topics[dlqTopic], kafkago.FirstOffsetOf(p.ID), kafkago.LastOffsetOf(p.ID))
	}
	offsets, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", sec.explain(err))
	}
	parts := offsets.Topics[dlqTopic]
	slices.SortFunc(parts, func(a, b kafkago.PartitionOffsets) int { return a.Partition - b.Partition })
	var out []DeadLetter
	var errs []error
	for _, p := range parts {
		if p.Error != nil {
			return nil, fmt.Errorf("offsets of %s/%d: %w", dlqTopic, p.Partition, p.Error)
		}
		if p.LastOffset <= p.FirstOffset {
			continue
		}
		msgs, err := readRange(ctx, brokers, sec, dlqTopic, p.Partition, p.FirstOffset, p.LastOffset)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			d, err := parseDeadLetter(m, source)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, d)
		}
	}
	return out, errors.Join(errs...)
}

// readRange reads the records of one partition from first up to end.
func readRange(ctx context.Context, brokers []string, sec Security, topic string, partition int, first, end int64) ([]kafkago.Message, error) {
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: brokers, Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond, Dialer: sec.dialer(),
	})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return nil, err
	}
	var out []kafkago.Message
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) && ctx.Err() == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read %s/%d at offset %d: %w", topic, partition, r.Offset(), sec.explain(err))
		}
		if m.Offset >= end {
			return out, nil
		}
		out = append(out, m)
		if m.Offset+1 >= end {
			return out, nil
		}
	}
}

// Replay writes letters back to the topics they came from with w, in the
// order given, so each key's records keep their order. Consumers dedupe by
// event id, so replaying a record that was in fact handled, or replaying
// one twice, has no second effect.
func Replay(ctx context.Context, w *kafkago.Writer, letters []DeadLetter) error {
	if len(letters) == 0 {
		return nil
	}
	msgs := make([]kafkago.Message, len(letters))
	for i, d := range letters {
		msgs[i] = d.Message()
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("replay %d dead letters: %w", len(letters), err)
	}
	return nil
}
