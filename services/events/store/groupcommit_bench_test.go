package store_test

import (
	"fmt"
	"testing"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/services/events/domain"
	"github.com/kinshiphq/kinship/services/events/store"
)

// BenchmarkAnswerBatch answers one group-commit batch of 64 RSVPs for a
// fresh 32-seat occurrence (32 seats taken, 32 waitlisted) per iteration,
// on each engine: the database side of a burst, without HTTP.
//
//	go test -run XXX -bench BenchmarkAnswerBatch -count 5 ./services/events/store/
func BenchmarkAnswerBatch(b *testing.B) {
	const batch, seats = 64, 32
	for _, engine := range dbtest.Engines() {
		b.Run(engine, func(b *testing.B) {
			f := newStore(b, engine)
			calls := make([]store.Call, batch)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e, occs := f.event(b, seats, "")
				for j := range calls {
					calls[j] = store.Call{Ctx: f.ctx, Community: "demo", EventID: e.ID, OccurrenceID: occs[0].ID,
						MemberID: fmt.Sprintf("m%02d", j), Answer: domain.AnswerGoing}
				}
				b.StartTimer()
				for j, r := range f.s.AnswerTogether(calls) {
					if r.Err != nil {
						b.Fatalf("answer %d: %v", j, r.Err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/answer")
		})
	}
}
