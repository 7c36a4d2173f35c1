package pages

import (
	"sync"
	"time"

	"github.com/kinshiphq/kinship/console/session"
)

// job is long work started from a page (a CSV import, starting journeys
// for a segment) that the page polls for progress. Only the session that
// started a job sees it.
type job struct {
	id, owner string
	started   time.Time

	mu       sync.Mutex
	total    int64 // bytes or members; 0 while unknown
	done     int64
	finished bool
	failure  string
	result   any
}

type jobSnapshot struct {
	ID       string
	Total    int64
	Done     int64
	Percent  int
	Finished bool
	Failure  string
	Result   any
}

func (j *job) progress(done, total int64) {
	j.mu.Lock()
	j.done, j.total = done, total
	j.mu.Unlock()
}

func (j *job) finish(result any, failure string) {
	j.mu.Lock()
	j.finished, j.result, j.failure = true, result, failure
	if failure == "" && j.total > 0 {
		j.done = j.total
	}
	j.mu.Unlock()
}

func (j *job) snapshot() jobSnapshot {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := jobSnapshot{ID: j.id, Total: j.total, Done: j.done, Finished: j.finished, Failure: j.failure, Result: j.result}
	if j.total > 0 {
		s.Percent = int(j.done * 100 / j.total)
	}
	if j.finished && j.failure == "" {
		s.Percent = 100
	}
	return s
}

// jobs keeps recent jobs; finished ones are forgotten after an hour.
type jobs struct {
	mu sync.Mutex
	m  map[string]*job
}

const (
	jobKeep = time.Hour
	maxJobs = 200
)

func newJobs() *jobs { return &jobs{m: map[string]*job{}} }

func (js *jobs) start(owner string) *job {
	j := &job{id: session.Random()[:22], owner: owner, started: time.Now()}
	js.mu.Lock()
	defer js.mu.Unlock()
	for id, old := range js.m {
		if time.Since(old.started) > jobKeep {
			delete(js.m, id)
		}
	}
	if len(js.m) >= maxJobs { // never unbounded: drop the oldest
		var oldest *job
		for _, o := range js.m {
			if oldest == nil || o.started.Before(oldest.started) {
				oldest = o
			}
		}
		delete(js.m, oldest.id)
	}
	js.m[j.id] = j
	return j
}

func (js *jobs) get(id, owner string) (*job, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.m[id]
	if !ok || j.owner != owner {
		return nil, false
	}
	return j, true
}
