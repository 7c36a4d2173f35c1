package workflows

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/kinshiphq/kinship/workflows/definitions"
)

// quotaTypesMemory is how long the trigger trusts the activity types it
// read from a community's programmes.
const quotaTypesMemory = time.Minute

// quotaTypes remembers, per community, the activity types the quotas of
// any version of its ambassador programme count — an ambassador runs the
// version their cycle began with — so the trigger signals only the
// activities a review can use.
type quotaTypes struct {
	store  *definitions.Store
	memory time.Duration
	now    func() time.Time
	mu     sync.Mutex
	known  map[string]quotaTypesEntry
}

type quotaTypesEntry struct {
	types []string
	at    time.Time
}

func newQuotaTypes(store *definitions.Store, memory time.Duration) *quotaTypes {
	return &quotaTypes{store: store, memory: memory, now: time.Now, known: map[string]quotaTypesEntry{}}
}

// counts reports whether activities of typ count towards a quota of the
// community's programme.
func (q *quotaTypes) counts(ctx context.Context, community, typ string) (bool, error) {
	q.mu.Lock()
	e, ok := q.known[community]
	q.mu.Unlock()
	if !ok || q.now().Sub(e.at) >= q.memory {
		types, err := q.store.QuotaActivities(ctx, community)
		if err != nil {
			return false, err
		}
		e = quotaTypesEntry{types: types, at: q.now()}
		q.mu.Lock()
		q.known[community] = e
		q.mu.Unlock()
	}
	return slices.Contains(e.types, typ), nil
}
