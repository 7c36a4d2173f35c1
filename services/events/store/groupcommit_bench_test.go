package store_test

import (
	"fmt"
	"testing"

	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/services/events/domain"
	"github.com/kinshiphq/kinship/services/events/store"
)

// BenchmarkAnswerBatch answers one group-commit batch of RSVPs (64, or
// 512: the most one batch takes) for a fresh occurrence with seats for
// half of them (half seated, half waitlisted) per iteration, on each
// engine: the database side of a burst, without HTTP.
//
//	go test -run XXX -bench BenchmarkAnswerBatch -count 5 ./services/events/store/
func BenchmarkAnswerBatch(b *testing.B) {
	for _, engine := range dbtest.Engines() {
		for _, batch := range []int{64, 512} {
			b.Run(fmt.Sprintf("%s/%d", engine, batch), func(b *testing.B) { benchmarkAnswerBatch(b, engine, batch) })
		}
	}
}

func benchmarkAnswerBatch(b *testing.B, engine string, batch int) {
	f := newStore(b, engine)
	calls := make([]store.Call, batch)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e, occs := f.event(b, batch/2, "")
		for j := range calls {
			calls[j] = store.Call{Ctx: f.ctx, Community: "demo", EventID: e.ID, OccurrenceID: occs[0].ID,
				MemberID: fmt.Sprintf("m%03d", j), Answer: domain.AnswerGoing}
		}
		b.StartTimer()
		for j, r := range f.s.AnswerTogether(calls) {
			if r.Err != nil {
				b.Fatalf("answer %d: %v", j, r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/answer")
}
