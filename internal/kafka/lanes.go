package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Lanes: a consumer with ConsumerConfig.Lanes > 1 handles records of
// different keys at the same time. Records are spread over the lanes by
// key, so one key's records (one member's events) are still handled one
// after another in the order of their partition; records of other keys
// no longer wait behind a slow one. Offsets are committed in order per
// partition: an offset is committed only once every record before it in
// its partition is done, so a crash redelivers (never skips) what was in
// flight — the handlers are idempotent, as for one lane.

// laneQueue is how many fetched records each lane may hold ahead of the
// one it handles; a full lane holds the fetch (and so the other lanes'
// next records), which bounds the memory of a consumer far behind.
const laneQueue = 32

// partitionKey names one partition of one topic.
type partitionKey struct {
	topic     string
	partition int
}

// offsets tracks the records of one partition fetched but not yet
// committable, in fetch order.
type offsets struct {
	inflight []kafkago.Message
	done     map[int64]bool
}

// commitTracker knows, per partition, the last record before which every
// record is done: the one to commit.
type commitTracker struct {
	mu         sync.Mutex
	partitions map[partitionKey]*offsets
	ready      map[partitionKey]kafkago.Message // committable, not yet committed
	wake       chan struct{}
}

func newCommitTracker() *commitTracker {
	return &commitTracker{partitions: map[partitionKey]*offsets{}, ready: map[partitionKey]kafkago.Message{}, wake: make(chan struct{}, 1)}
}

// fetched records that msg is in flight.
func (t *commitTracker) fetched(msg kafkago.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := partitionKey{msg.Topic, msg.Partition}
	p := t.partitions[k]
	if p == nil {
		p = &offsets{done: map[int64]bool{}}
		t.partitions[k] = p
	}
	p.inflight = append(p.inflight, msg)
}

// finished records that msg was handled and makes the partition's
// contiguous prefix of handled records committable.
func (t *commitTracker) finished(msg kafkago.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := partitionKey{msg.Topic, msg.Partition}
	p := t.partitions[k]
	if p == nil {
		return
	}
	p.done[msg.Offset] = true
	advanced := false
	for len(p.inflight) > 0 && p.done[p.inflight[0].Offset] {
		head := p.inflight[0]
		delete(p.done, head.Offset)
		p.inflight = p.inflight[1:]
		t.ready[k] = head
		advanced = true
	}
	if advanced {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// take returns the records to commit now, one per partition, and forgets
// them.
func (t *commitTracker) take() []kafkago.Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ready) == 0 {
		return nil
	}
	out := make([]kafkago.Message, 0, len(t.ready))
	for k, m := range t.ready {
		out = append(out, m)
		delete(t.ready, k)
	}
	return out
}

// giveBack returns records whose commit did not happen, unless a later
// record of their partition became committable meanwhile.
func (t *commitTracker) giveBack(msgs []kafkago.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range msgs {
		k := partitionKey{m.Topic, m.Partition}
		if cur, ok := t.ready[k]; !ok || cur.Offset < m.Offset {
			t.ready[k] = m
		}
	}
}

// laneOf picks the lane of a record by its key; records without a key go
// by partition, which keeps them in partition order.
func laneOf(msg kafkago.Message, lanes int) int {
	h := fnv.New32a()
	if len(msg.Key) > 0 {
		_, _ = h.Write(msg.Key)
	} else {
		_, _ = fmt.Fprintf(h, "%s/%d", msg.Topic, msg.Partition)
	}
	return int(h.Sum32() % uint32(lanes))
}

// runLanes is Run with cfg.Lanes lanes: one goroutine fetches and hands
// each record to its key's lane, the lanes handle, and one goroutine
// commits what became committable, several partitions in one request.
func (c *Consumer) runLanes(ctx context.Context, handle Handler) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tracker := newCommitTracker()
	queues := make([]chan kafkago.Message, c.cfg.Lanes)
	var lanes sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan kafkago.Message, laneQueue)
		lanes.Add(1)
		go func() {
			defer lanes.Done()
			for msg := range queues[i] {
				if ctx.Err() != nil {
					continue // drain: what is left is redelivered after a restart
				}
				if err := c.process(ctx, msg, handle); err != nil {
					if ctx.Err() == nil {
						cancel(err)
					}
					continue
				}
				tracker.finished(msg)
			}
		}()
	}
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		c.commitLoop(ctx, tracker)
	}()

	c.fetchInto(ctx, tracker, queues)
	for _, q := range queues {
		close(q)
	}
	lanes.Wait()
	cancel(nil)
	<-committed
	// A last commit of what the lanes finished, so a clean stop (a
	// rebalance away, a rolling restart) redelivers as little as it can.
	if msgs := tracker.take(); len(msgs) > 0 {
		final, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = c.reader.CommitMessages(final, msgs...)
		cancelFinal()
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err // a lane's handler failed for good
	}
	return nil
}

// fetchInto fetches records and queues each on its lane until ctx ends.
func (c *Consumer) fetchInto(ctx context.Context, tracker *commitTracker, queues []chan kafkago.Message) {
	for {
		msg, ok := c.fetch(ctx)
		if !ok {
			return
		}
		tracker.fetched(msg)
		select {
		case queues[laneOf(msg, len(queues))] <- msg:
		case <-ctx.Done():
			return
		}
	}
}

// commitLoop commits what the lanes made committable until ctx ends,
// retrying a failed commit with the records of the next one.
func (c *Consumer) commitLoop(ctx context.Context, tracker *commitTracker) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tracker.wake:
		}
		msgs := tracker.take()
		if len(msgs) == 0 {
			continue
		}
		if err := c.retry(ctx, "commit", msgs[0], func() error { return c.reader.CommitMessages(ctx, msgs...) }); err != nil {
			tracker.giveBack(msgs)
			return // only ctx ends retry
		}
	}
}
