package store_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
)

// BenchmarkCreateMember stores team joins (half of them with consent)
// from 8 goroutines at once, with group commit (join batch 64) and
// without (1), on every engine.
func BenchmarkCreateMember(b *testing.B) {
	for _, engine := range dbtest.Engines() {
		for _, batch := range []int{64, 1} {
			b.Run(fmt.Sprintf("%s/batch-%d", engine, batch), func(b *testing.B) {
				f := newStore(b, engine, nil)
				f.s.WithJoinBatch(batch)
				joins := make([]aJoin, b.N)
				for i := range joins {
					joins[i] = joiner(b, fmt.Sprint(i), "demo", fmt.Sprintf("m%d@example.org", i), i%2 == 0)
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for range 8 {
					wg.Go(func() {
						for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
							j := joins[i]
							if err := f.s.CreateMember(j.ctx, j.m, j.consent, f.log, j.events...); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			})
		}
	}
}
