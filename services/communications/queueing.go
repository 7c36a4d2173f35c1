package communications

import (
	"context"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// queueBatch is how many members' messages one transaction of the
// background queueing stores: small enough that the dispatcher's commits
// never wait long for it.
const queueBatch = 500

// announcementQueuer queues the messages of accepted announcements in the
// background, a batch per transaction, so CreateAnnouncement answers at
// once however large the segment; the dispatcher is woken after each
// batch and sends while the rest is queued.
type announcementQueuer struct {
	store    *store.Store
	events   events.Factory
	batch    int
	delivery func() // wakes the dispatcher
	wake     chan struct{}
	logger   *slog.Logger
}

func newAnnouncementQueuer(st *store.Store, wakeDelivery func(), logger *slog.Logger) *announcementQueuer {
	return &announcementQueuer{store: st, batch: queueBatch, delivery: wakeDelivery, wake: make(chan struct{}, 1), logger: logger}
}

// Wake says an announcement was accepted.
func (q *announcementQueuer) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run queues until ctx ends, looking for work every interval or when woken.
func (q *announcementQueuer) Run(ctx context.Context, interval time.Duration) error {
	for ctx.Err() == nil {
		busy, err := q.queueOnce(ctx)
		if err != nil && ctx.Err() == nil {
			q.logger.WarnContext(ctx, "queueing announcements failed; will retry", "error", err)
		}
		if busy && err == nil {
			continue
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-q.wake:
		}
		t.Stop()
	}
	return nil
}

// queueOnce queues one batch of every announcement still being queued;
// busy says some are left.
func (q *announcementQueuer) queueOnce(ctx context.Context) (busy bool, err error) {
	list, err := q.store.Queueing(ctx)
	if err != nil {
		return false, err
	}
	for _, a := range list {
		n, done, err := q.store.QueueAnnouncementBatch(ctx, a.Community, a.ID, q.batch, q.events.MessageQueued)
		if err != nil {
			return false, err
		}
		if n > 0 {
			q.delivery()
		}
		switch {
		case done:
			q.logger.InfoContext(ctx, "announcement queued", "community", a.Community, "announcement_id", a.ID)
		case n > 0:
			busy = true // n = 0: another replica holds it; look again later
		}
	}
	return busy, nil
}

// delivery is what the API asks of delivery: the deliverer, with a wake
// that also starts the queueing of a new announcement.
type delivery struct {
	*Deliverer
	queuer *announcementQueuer
}

func (d delivery) Wake() {
	d.queuer.Wake()
	d.Deliverer.Wake()
}
