package communications

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// journalGroup bounds how many marks and hand-offs one commit carries.
const journalGroup = 64

// journal records the sending marks and the hand-offs of one batch's
// e-mails in group commits. A worker submits its message's mark once the
// message is rendered and the window has room; it hands the message over
// only once the mark is committed, and after the server's 250 it submits
// the hand-off and goes on with its next message. At most window e-mails
// are marked and not yet answered at a time (one per SMTP connection), so
// a marked e-mail is one a connection is sending and a crash leaves in
// doubt only e-mails that were handed over or about to be. A committer takes whatever is
// waiting (up to journalGroup entries) into one transaction, and while
// that commits, the next group gathers — no timer, no added delay: an
// entry waits at most for the commit under way and its own. SQLite has
// one committer (its writes are serial anyway); PostgreSQL a few, side by
// side, so the round trips of one group overlap another's. A crash
// between a 250 and its group's commit leaves exactly the messages of
// that group (and of any later 250s) marked and unrecorded: in doubt,
// settled by domain.InDoubtPolicy once their lease runs out; so are the
// few marked e-mails still waiting for a connection.
type journal struct {
	store *store.Store
	ctx   context.Context // the batch's, without its cancellation
	reqs  chan *journalEntry
	done  chan struct{}
	// window holds a token for every e-mail whose mark was submitted and
	// that was not yet handed over or given up: the e-mails a crash could
	// leave in doubt beyond those the server is answering.
	window chan struct{}
	// crash, set by tests only, is asked before each commit carrying
	// hand-offs, with their message ids; true stops the journal there as
	// a killed process would: nothing more is committed.
	crash func(handOffs []string) bool

	mu     sync.Mutex
	failed error // errCrashed once a test's crash point was reached
}

// journalEntry is one mark or one hand-off, and its result.
type journalEntry struct {
	mark    *store.Mark
	handOff *store.HandOff
	marked  bool
	err     error
	done    chan struct{}
}

// wait returns the entry's result once its group was committed.
func (e *journalEntry) wait() error {
	<-e.done
	return e.err
}

// startJournal starts a journal with committers goroutines committing
// groups side by side (one on SQLite, whose writes are serial anyway);
// at most window e-mails are marked ahead of their hand-off at a time.
func startJournal(ctx context.Context, st *store.Store, committers, window int, crash func([]string) bool) *journal {
	j := &journal{store: st, ctx: context.WithoutCancel(ctx), reqs: make(chan *journalEntry, journalGroup), done: make(chan struct{}),
		window: make(chan struct{}, max(1, window)), crash: crash}
	var wg sync.WaitGroup
	for range max(1, committers) {
		wg.Go(j.run)
	}
	go func() {
		wg.Wait()
		close(j.done)
	}()
	return j
}

// close commits what was submitted and stops the journal.
func (j *journal) close() {
	close(j.reqs)
	<-j.done
}

// crashed says whether a test's crash point stopped the journal.
func (j *journal) crashed() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return errors.Is(j.failed, errCrashed)
}

// mark submits the sending mark of attempt number attempt of m, begun at
// at, once the window has room for it; once the entry's wait returns, its
// marked field says whether it was stored (see store.CommitSending). The
// caller gives its place in the window back with settled once the e-mail
// was handed over or given up.
func (j *journal) mark(ctx context.Context, m domain.Message, attempt int, at time.Time) (*journalEntry, error) {
	select {
	case j.window <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	e := &journalEntry{mark: &store.Mark{Message: m, Attempt: attempt, At: at}, done: make(chan struct{})}
	j.reqs <- e
	return e, nil
}

// settled gives back the window's place of an e-mail mark took: the mail
// server answered it, or it was never handed over.
func (j *journal) settled() { <-j.window }

// handOff submits the hand-off of community's accepted message of sent
// outcome o; the entry tells when it is committed.
func (j *journal) handOff(community string, o store.Outcome) *journalEntry {
	e := &journalEntry{handOff: &store.HandOff{Community: community, Outcome: o}, done: make(chan struct{})}
	j.reqs <- e
	return e
}

func (j *journal) run() {
	for first := range j.reqs {
		group := []*journalEntry{first}
	gather:
		for len(group) < journalGroup {
			select {
			case e, ok := <-j.reqs:
				if !ok {
					break gather
				}
				group = append(group, e)
			default:
				break gather
			}
		}
		j.commit(group)
	}
}

// commit stores one group in one transaction. It runs even when the batch's
// context has ended: a 250 is recorded whatever happens to the caller.
func (j *journal) commit(group []*journalEntry) {
	var marks []store.Mark
	var handOffs []store.HandOff
	var ids []string
	for _, e := range group {
		if e.mark != nil {
			marks = append(marks, *e.mark)
		} else {
			handOffs = append(handOffs, *e.handOff)
			ids = append(ids, e.handOff.Outcome.ID)
		}
	}
	j.mu.Lock()
	if j.failed == nil && len(handOffs) > 0 && j.crash != nil && j.crash(ids) {
		j.failed = errCrashed
	}
	failed := j.failed
	j.mu.Unlock()
	var marked []bool
	err := failed
	if err == nil {
		ctx, cancel := context.WithTimeout(j.ctx, 10*time.Second)
		marked, err = j.store.CommitSending(ctx, marks, handOffs)
		cancel()
	}
	k := 0
	for _, e := range group {
		e.err = err
		if e.mark != nil {
			if err == nil {
				e.marked = marked[k]
			}
			k++
		}
		close(e.done)
	}
}
