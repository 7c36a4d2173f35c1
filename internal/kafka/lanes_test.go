package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// The tracker commits a partition only as far as every record before is
// done, whatever order the lanes finish in.
func TestCommitTrackerCommitsOnlyTheDonePrefix(t *testing.T) {
	tr := newCommitTracker()
	rec := func(p int, off int64) kafkago.Message { return kafkago.Message{Topic: "t", Partition: p, Offset: off} }
	for off := range int64(4) {
		tr.fetched(rec(0, off))
	}
	tr.fetched(rec(1, 7))

	tr.finished(rec(0, 2))
	tr.finished(rec(0, 1))
	if got := tr.take(); len(got) != 0 {
		t.Fatalf("offset 0 is still running, yet %v became committable", got)
	}
	tr.finished(rec(0, 0))
	tr.finished(rec(1, 7))
	got := tr.take()
	slices.SortFunc(got, func(a, b kafkago.Message) int { return a.Partition - b.Partition })
	if len(got) != 2 || got[0].Offset != 2 || got[1].Offset != 7 {
		t.Fatalf("committable = %v, want partition 0 up to offset 2 and partition 1 at 7", got)
	}
	// A failed commit is given back, unless a later one came meanwhile.
	tr.finished(rec(0, 3))
	tr.giveBack(got)
	again := tr.take()
	slices.SortFunc(again, func(a, b kafkago.Message) int { return a.Partition - b.Partition })
	if len(again) != 2 || again[0].Offset != 3 || again[1].Offset != 7 {
		t.Fatalf("after a failed commit: %v, want partition 0 at 3 (the later record) and 1 at 7", again)
	}
}

// Several lanes handle other keys while one key's record is slow; each
// key's records stay in their order, and after a restart nothing is
// skipped: the slow record and what came after it in its partition are
// handled again or for the first time.
func TestLanesKeepEachKeysOrderAndDoNotWaitForOtherKeys(t *testing.T) {
	const topic = "demo.lanes.v1"
	h := newHarness(t, topic)
	// k0 and nine keys in other lanes than k0's (keys sharing a lane
	// wait for each other, by design).
	const lanes = 8
	laneOfKey := func(k string) int { return laneOf(kafkago.Message{Key: []byte(k)}, lanes) }
	keys := []string{"k0"}
	for i := 1; len(keys) < 10; i++ {
		if k := fmt.Sprintf("k%d", i); laneOfKey(k) != laneOfKey("k0") {
			keys = append(keys, k)
		}
	}
	var msgs []kafkago.Message
	for i := range 20 {
		for _, k := range keys {
			e := testEvent(topic, fmt.Sprintf("%s-%02d", k, i))
			e.Key = k
			msgs = append(msgs, e.Message())
		}
	}
	if err := h.writer.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string][]string{} // key → event ids in handling order
	handled := 0
	release := make(chan struct{})
	othersDone := make(chan struct{})
	handle := func(ctx context.Context, e Event) error {
		if e.ID == "k0-00" {
			select { // k0's first record holds its lane until the others are done
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		mu.Lock()
		defer mu.Unlock()
		seen[e.Key] = append(seen[e.Key], e.ID)
		handled++
		if handled == 180 { // every record of the nine other keys
			close(othersDone)
		}
		return nil
	}
	cfg := ConsumerConfig{
		Brokers: h.brokers, GroupID: "lanes", Topics: []string{topic}, DeadLetters: h.writer, Lanes: lanes,
		Tracer: h.tp, Logger: slog.New(slog.DiscardHandler), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}
	c, err := NewConsumer(cfg, propagator)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, handle) }()
	select {
	case <-othersDone:
	case <-time.After(30 * time.Second):
		mu.Lock()
		t.Fatalf("other keys waited behind one slow record: %d of 180 handled", handled)
	}
	close(release)
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return handled >= 200 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	for k, ids := range seen {
		if !slices.IsSorted(ids) {
			t.Errorf("key %s handled out of order: %v", k, ids)
		}
		if len(ids) != 20 {
			t.Errorf("key %s: %d records handled, want 20", k, len(ids))
		}
	}
	mu.Unlock()

	// Everything was handled and committed: a new consumer of the group
	// gets only what is written next.
	next := testEvent(topic, "after")
	if err := h.writer.WriteMessages(context.Background(), next.Message()); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 256)
	c2, err := NewConsumer(cfg, propagator)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- c2.Run(ctx2, func(_ context.Context, e Event) error { got <- e.ID; return nil }) }()
	if id := waitFor(t, got); id != "after" {
		t.Errorf("after a restart the group got %s first, want only the record written after (all were committed)", id)
	}
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
