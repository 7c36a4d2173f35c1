package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

func TestDeadLettersReplayToTheirTopicOnceFixed(t *testing.T) {
	const topic = "demo.replay.v1"
	h := newHarness(t, topic)
	ctx := context.Background()
	first, bad, after := testEvent(topic, "first"), testEvent(topic, "bad"), testEvent(topic, "after")
	first.Key, bad.Key, after.Key = "k", "k", "k"
	badMsg := bad.Message()
	badMsg.Headers = append(badMsg.Headers, kafkago.Header{Key: "traceparent", Value: []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")})
	garbage := kafkago.Message{Topic: topic, Key: []byte("k"), Value: []byte("not an event")}
	if err := h.writer.WriteMessages(ctx, first.Message(), badMsg, garbage, after.Message()); err != nil {
		t.Fatal(err)
	}

	// The handler refuses "bad" until its cause is fixed.
	var mu sync.Mutex
	fixed := false
	seen := make(chan string, 16)
	h.consume(t, topic, func(_ context.Context, e Event) error {
		mu.Lock()
		defer mu.Unlock()
		if e.ID == "bad" && !fixed {
			return Permanent(errors.New("unknown member"))
		}
		seen <- e.ID
		return nil
	})
	for _, want := range []string{"first", "after"} {
		if got := waitFor(t, seen); got != want {
			t.Fatalf("handled %s, want %s", got, want)
		}
	}

	dlq := DeadLetterTopic(topic)
	letters := waitForDeadLetters(t, h.brokers, dlq, 2)
	byEvent := map[string]DeadLetter{}
	for _, d := range letters {
		byEvent[d.EventID] = d
		if d.Topic != topic || d.Consumer != "test-group" || d.SourceOffset == "" || d.Reason == "" {
			t.Errorf("dead letter %s lacks its origin or reason: %+v", d.ID, d)
		}
		for _, hd := range d.Headers {
			if strings.HasPrefix(hd.Key, "kinship_dlq_") {
				t.Errorf("dead letter %s keeps DLQ header %s for replay", d.ID, hd.Key)
			}
		}
	}
	d, ok := byEvent["bad"]
	if !ok {
		t.Fatalf("no dead letter for the refused event: %+v", letters)
	}
	if d.Reason != "permanent: unknown member" || string(d.Key) != "k" || d.EventType != bad.Type {
		t.Errorf("dead letter = reason %q key %q type %q, want the handler's reason, key k and the event's type", d.Reason, d.Key, d.EventType)
	}
	if !d.Matches("bad") || !d.Matches(d.ID) || d.Matches("first") {
		t.Errorf("dead letter %s matches neither its position nor its event id", d.ID)
	}

	mu.Lock()
	fixed = true
	mu.Unlock()
	w := NewWriter(WriterConfig{Brokers: h.brokers})
	t.Cleanup(func() { w.Close() })
	// Replaying twice (an operator's retry) delivers the event twice with
	// its own id, which the services' inboxes collapse into one effect.
	for range 2 {
		if err := Replay(ctx, w, []DeadLetter{d}); err != nil {
			t.Fatal(err)
		}
	}
	if got := waitFor(t, seen); got != "bad" {
		t.Fatalf("after replay handled %s, want bad", got)
	}
	if got := waitFor(t, seen); got != "bad" {
		t.Fatalf("second replay handled %s, want bad", got)
	}
	var trace string
	for _, m := range readAll(t, h.brokers, topic, 6) {
		c := HeaderCarrier{Headers: &m.Headers}
		if c.Get(HeaderID) == "bad" {
			trace = c.Get("traceparent")
			if c.Get(HeaderDLQReason) != "" || c.Get(HeaderDLQTopic) != "" {
				t.Errorf("replayed record carries DLQ headers: %v", m.Headers)
			}
			if string(m.Key) != "k" {
				t.Errorf("replayed record key = %q, want k", m.Key)
			}
		}
	}
	if trace != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Errorf("replayed record lost its other headers (traceparent = %q)", trace)
	}
}

// waitForDeadLetters reads dlq until it holds want records.
func waitForDeadLetters(t *testing.T, brokers []string, dlq string, want int) []DeadLetter {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		letters, err := ReadDeadLetters(ctx, brokers, Security{}, dlq)
		cancel()
		if err == nil && len(letters) >= want {
			return letters
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters of %s = %d (%v), want %d", dlq, len(letters), err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestReadDeadLettersRefusesWhatIsNotADeadLetterOfItsTopic(t *testing.T) {
	const topic = "demo.forged.v1"
	h := newHarness(t, topic)
	ctx := context.Background()
	tests := []struct {
		name  string
		topic string
		want  string
	}{
		{"not a dead-letter topic", topic, "not a dead-letter topic"},
		{"bare suffix", ".dlq", "not a dead-letter topic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadDeadLetters(ctx, h.brokers, Security{}, tt.topic)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadDeadLetters(%q) error = %v, want %q", tt.topic, err, tt.want)
			}
		})
	}

	t.Run("record naming another origin", func(t *testing.T) {
		forged := testEvent(DeadLetterTopic(topic), "forged").Message()
		forged.Headers = append(forged.Headers, kafkago.Header{Key: HeaderDLQTopic, Value: []byte("demo.members.v1")})
		honest := testEvent(DeadLetterTopic(topic), "honest").Message()
		honest.Headers = append(honest.Headers, kafkago.Header{Key: HeaderDLQTopic, Value: []byte(topic)})
		if err := h.writer.WriteMessages(ctx, forged, honest); err != nil {
			t.Fatal(err)
		}
		letters, err := ReadDeadLetters(ctx, h.brokers, Security{}, DeadLetterTopic(topic))
		if err == nil || !strings.Contains(err.Error(), `"demo.members.v1"`) {
			t.Errorf("error = %v, want the forged origin refused", err)
		}
		if len(letters) != 1 || letters[0].EventID != "honest" || letters[0].Topic != topic {
			t.Errorf("letters = %s, want only the honest one, for %s", fmt.Sprint(letters), topic)
		}
	})
}
