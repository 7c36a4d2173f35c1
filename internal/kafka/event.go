// Package kafka is Kinship's Kafka plumbing over segmentio/kafka-go: events
// in the CloudEvents Kafka binding (binary mode), a W3C trace-context carrier
// over record headers, a writer with explicit batching, topic creation, and
// a consumer loop (fetch, handle, commit) that sends records it cannot handle
// to a dead-letter topic.
package kafka

import (
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// CloudEvents Kafka protocol binding, binary content mode.
const (
	HeaderSpecVersion = "ce_specversion"
	HeaderID          = "ce_id"
	HeaderType        = "ce_type"
	HeaderSource      = "ce_source"
	HeaderTime        = "ce_time"
	HeaderSubject     = "ce_subject"
	HeaderContentType = "content-type"

	SpecVersion         = "1.0"
	ContentTypeProtobuf = "application/protobuf"
)

// Event is one CloudEvent as it travels on a Kafka topic.
type Event struct {
	ID          string
	Type        string
	Source      string
	Subject     string
	Time        time.Time
	ContentType string
	Data        []byte

	Topic string
	Key   string

	// Set on consumed events.
	Partition int
	Offset    int64
}

// Headers returns the CloudEvents headers of e.
func (e Event) Headers() []kafkago.Header {
	h := []kafkago.Header{
		{Key: HeaderSpecVersion, Value: []byte(SpecVersion)},
		{Key: HeaderID, Value: []byte(e.ID)},
		{Key: HeaderType, Value: []byte(e.Type)},
		{Key: HeaderSource, Value: []byte(e.Source)},
		{Key: HeaderTime, Value: []byte(e.Time.UTC().Format(time.RFC3339Nano))},
		{Key: HeaderContentType, Value: []byte(e.ContentType)},
	}
	if e.Subject != "" {
		h = append(h, kafkago.Header{Key: HeaderSubject, Value: []byte(e.Subject)})
	}
	return h
}

// Message returns the Kafka record carrying e.
func (e Event) Message() kafkago.Message {
	return kafkago.Message{Topic: e.Topic, Key: []byte(e.Key), Value: e.Data, Headers: e.Headers()}
}

// ErrNotCloudEvent means a record lacks a required CloudEvents header.
var ErrNotCloudEvent = errors.New("not a cloudevent")

// ParseEvent reads the CloudEvent carried by msg.
func ParseEvent(msg kafkago.Message) (Event, error) {
	e := Event{
		Topic:     msg.Topic,
		Key:       string(msg.Key),
		Partition: msg.Partition,
		Offset:    msg.Offset,
		Data:      msg.Value,
	}
	var specVersion, rawTime string
	for _, h := range msg.Headers {
		switch h.Key {
		case HeaderSpecVersion:
			specVersion = string(h.Value)
		case HeaderID:
			e.ID = string(h.Value)
		case HeaderType:
			e.Type = string(h.Value)
		case HeaderSource:
			e.Source = string(h.Value)
		case HeaderSubject:
			e.Subject = string(h.Value)
		case HeaderTime:
			rawTime = string(h.Value)
		case HeaderContentType:
			e.ContentType = string(h.Value)
		}
	}
	switch {
	case specVersion != SpecVersion:
		return e, fmt.Errorf("%w: %s is %q, want %q", ErrNotCloudEvent, HeaderSpecVersion, specVersion, SpecVersion)
	case e.ID == "":
		return e, fmt.Errorf("%w: missing %s", ErrNotCloudEvent, HeaderID)
	case e.Type == "":
		return e, fmt.Errorf("%w: missing %s", ErrNotCloudEvent, HeaderType)
	case e.Source == "":
		return e, fmt.Errorf("%w: missing %s", ErrNotCloudEvent, HeaderSource)
	}
	if rawTime != "" {
		t, err := time.Parse(time.RFC3339Nano, rawTime)
		if err != nil {
			return e, fmt.Errorf("%w: %s is not RFC 3339", ErrNotCloudEvent, HeaderTime)
		}
		e.Time = t
	}
	return e, nil
}
