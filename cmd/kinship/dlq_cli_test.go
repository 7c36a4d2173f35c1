package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/kafka/kafkatest"
)

func TestDLQListsAndReplaysDeadLettersToTheirTopic(t *testing.T) {
	const topic = "demo.members.v1"
	dlq := kafka.DeadLetterTopic(topic)
	brokers := kafkatest.Start(t)
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, brokers, kafka.Security{},
		kafka.Topic{Name: topic, Partitions: 1, ReplicationFactor: 1}, kafka.Topic{Name: dlq, Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: brokers})
	t.Cleanup(func() { w.Close() })
	letter := func(id string) kafkago.Message {
		e := kafka.Event{ID: id, Type: "kinship.members.v1.MemberJoined", Source: "/members", Time: time.Now(),
			ContentType: kafka.ContentTypeProtobuf, Data: []byte("payload-" + id), Topic: dlq, Key: "member-" + id}
		m := e.Message()
		m.Headers = append(m.Headers,
			kafkago.Header{Key: kafka.HeaderDLQReason, Value: []byte("permanent: unknown member")},
			kafkago.Header{Key: kafka.HeaderDLQTopic, Value: []byte(topic)},
			kafkago.Header{Key: kafka.HeaderDLQPartition, Value: []byte("0")},
			kafkago.Header{Key: kafka.HeaderDLQOffset, Value: []byte("7")},
			kafkago.Header{Key: kafka.HeaderDLQConsumer, Value: []byte("kinship-events-members.demo")})
		return m
	}
	if err := w.WriteMessages(ctx, letter("e1"), letter("e2"), letter("e3")); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"KAFKA_BROKERS": strings.Join(brokers, ",")})

	var out bytes.Buffer
	if err := runDLQ(ctx, []string{"list", "-topic", dlq}, env, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"0:0", "e1", "kinship.members.v1.MemberJoined", "demo.members.v1/0@7", "permanent: unknown member", "3 dead letters"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "payload-") || strings.Contains(out.String(), "member-e1") {
		t.Errorf("list prints keys or payloads:\n%s", out.String())
	}

	tests := []struct {
		name    string
		args    []string
		wantErr string
		wantOut string
	}{
		{"not a dead-letter topic", []string{"replay", "-topic", topic}, "not a dead-letter topic", ""},
		{"unknown id replays nothing", []string{"replay", "-topic", dlq, "-id", "e2,nope"}, "no dead letter nope", ""},
		{"no verb", []string{"-topic", dlq}, "usage", ""},
		{"by event id and position", []string{"replay", "-topic", dlq, "-id", "e2,0:2"}, "", "replayed 2 dead letters to demo.members.v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runDLQ(ctx, tt.args, env, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output = %q, want %q", out.String(), tt.wantOut)
			}
		})
	}

	// Only the two chosen records reached the topic, in order, with their
	// keys and CloudEvent headers and without the DLQ headers.
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	var got []string
	for len(got) < 3 {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := r.ReadMessage(rctx)
		cancel()
		if err != nil {
			break
		}
		e, err := kafka.ParseEvent(m)
		if err != nil {
			t.Fatalf("replayed record is not an event: %v", err)
		}
		got = append(got, e.ID+"/"+e.Key)
		for _, h := range m.Headers {
			if strings.HasPrefix(h.Key, "kinship_dlq_") {
				t.Errorf("replayed record keeps %s", h.Key)
			}
		}
	}
	if strings.Join(got, " ") != "e2/member-e2 e3/member-e3" {
		t.Errorf("topic holds %v, want e2 and e3 replayed with their keys", got)
	}
}
