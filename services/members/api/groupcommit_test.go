package api

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/store"
)

// Under a steady stream of deliveries, the caller leading a commit
// returns once its own delivery is in and hands the lead on: it never
// commits for the others for ever (the ingest benchmark's deliveries
// timed out waiting behind a leader that did).
func TestGroupCommitLeaderReturnsOnceItsOwnIsIn(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]string
	g := &groupCommit{flush: func(_ context.Context, jobs []store.IngestJob) ([]store.IngestResult, error) {
		var ids []string
		for _, j := range jobs {
			ids = append(ids, j.Delivery.DeliveryID)
		}
		mu.Lock()
		batches = append(batches, ids)
		mu.Unlock()
		<-release
		out := make([]store.IngestResult, len(jobs))
		for i, j := range jobs {
			out[i] = store.IngestResult{Delivery: j.Delivery}
		}
		return out, nil
	}}
	job := func(id string) store.IngestJob { return store.IngestJob{Delivery: domain.Delivery{DeliveryID: id}} }
	returned := make(chan string, 16)
	call := func(id string) {
		res, err := g.do(context.Background(), job(id))
		if err != nil || res.Delivery.DeliveryID != id {
			t.Errorf("%s got %+v, %v", id, res, err)
		}
		returned <- id
	}
	waitBatches := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			mu.Lock()
			got := len(batches)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d commits started, want %d", got, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	go call("a")
	waitBatches(1) // a leads and commits [a]
	queued := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			g.mu.Lock()
			got := len(g.waiting)
			g.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d deliveries waiting, want %d", got, n)
			}
		}
	}
	go call("b")
	queued(1)
	go call("c")
	queued(2)
	release <- struct{}{} // [a] committed
	select {
	case id := <-returned:
		if id != "a" {
			t.Fatalf("%s returned first, want the leader a", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the leader did not return once its own delivery was in: it is committing the others'")
	}
	waitBatches(2) // b leads and commits [b c]; a did not wait for it
	mu.Lock()
	if got := batches[1]; len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Errorf("second commit = %v, want [b c] in arrival order", got)
	}
	mu.Unlock()
	release <- struct{}{}
	for range 2 {
		<-returned
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.flushing || len(g.waiting) != 0 {
		t.Errorf("after every delivery: flushing %v, waiting %d", g.flushing, len(g.waiting))
	}
}
