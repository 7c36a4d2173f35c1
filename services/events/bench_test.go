package events_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
)

// BenchmarkRSVP sends 1,000 RSVPs, over HTTP with the Connect protocol, to
// a 500-seat event of the service on SQLite (its outbox relaying to the
// in-process broker), and reports the latency percentiles of every RSVP
// across iterations. Each iteration uses a fresh event and checks the
// outcome: exactly 500 seats and 500 waitlisted. burst-1000 sends all
// 1,000 at the same instant; clients-16 sends them from 16 clients, each
// sending its next RSVP when the last one is answered.
//
//	go test -run XXX -bench BenchmarkRSVP -benchtime 5x ./services/events/
func BenchmarkRSVP(b *testing.B) {
	for _, clients := range []int{1000, 16} {
		name := fmt.Sprintf("clients-%d", clients)
		if clients == 1000 {
			name = "burst-1000"
		}
		b.Run(name, func(b *testing.B) { benchRSVP(b, clients) })
	}
}

func benchRSVP(b *testing.B, clients int) {
	const concurrent, seats = 1000, 500
	s := start(b)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = clients
	client := &http.Client{Transport: transport}
	attendance := eventsv1connect.NewAttendanceServiceClient(client, s.url, authtest.Bearer(s.issuer.For(b, "demo", auth.Organiser)))
	ctx := context.Background()
	var latencies []time.Duration
	var wall time.Duration
	b.ResetTimer()
	for iter := 0; b.Loop(); iter++ {
		b.StopTimer()
		spec := s.spec()
		spec.Capacity = seats
		e := s.publish(b, spec)
		occurrence := e.GetOccurrences()[0].GetId()
		for i := range concurrent {
			s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, fmt.Sprintf("bench-%d-%d", iter, i))
		}
		b.StartTimer()

		took := make([]time.Duration, concurrent)
		statuses := make([]eventsv1.RSVPStatus, concurrent)
		errs := make([]error, concurrent)
		var ready, done sync.WaitGroup
		var next atomic.Int64
		ready.Add(1)
		t0 := time.Now()
		for range clients {
			done.Go(func() {
				ready.Wait()
				for i := int(next.Add(1)) - 1; i < concurrent; i = int(next.Add(1)) - 1 {
					start := time.Now()
					res, err := attendance.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{Community: "demo", EventId: e.GetId(), OccurrenceId: occurrence,
						MemberId: fmt.Sprintf("bench-%d-%d", iter, i), Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING}))
					took[i], errs[i] = time.Since(start), err
					if err == nil {
						statuses[i] = res.Msg.GetRsvps()[0].GetStatus()
					}
				}
			})
		}
		ready.Done()
		done.Wait()
		wall += time.Since(t0)

		b.StopTimer()
		going, waiting := 0, 0
		for i, err := range errs {
			if err != nil {
				b.Fatalf("RSVP %d: %v", i, err)
			}
			switch statuses[i] {
			case eventsv1.RSVPStatus_RSVP_STATUS_GOING:
				going++
			case eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED:
				waiting++
			}
		}
		if going != seats || waiting != concurrent-seats {
			b.Fatalf("going %d, waitlisted %d; want %d and %d", going, waiting, seats, concurrent-seats)
		}
		latencies = append(latencies, took...)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.90), "p90-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(len(latencies))/wall.Seconds(), "rsvps/s")
}
