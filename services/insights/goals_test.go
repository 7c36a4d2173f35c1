package insights_test

import (
	"context"
	"testing"
	"time"

	w "github.com/kinshiphq/kinship/services/insights/demo"
	"github.com/kinshiphq/kinship/services/insights/domain"
)

func TestGoalStatusesFlipAsTheClockMoves(t *testing.T) {
	r := newRig(t, "sqlite", today)
	r.feed(t, told(scenario(), 5))
	day := func(s string) domain.Day {
		d, _, err := domain.ParseDay("d", s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	grow := domain.Goal{Community: "demo", GoalSpec: domain.GoalSpec{Name: "grow", Metric: "members.total", Target: 5,
		Deadline: day("2026-02-10"), HasDeadline: true, Baseline: day("2026-01-05")}}
	engage := domain.Goal{Community: "demo", GoalSpec: domain.GoalSpec{Name: "engage", Metric: "members.active", Target: 3,
		Deadline: day("2026-03-31"), HasDeadline: true, Baseline: day("2026-02-01")}}
	fewLeavers := domain.Goal{Community: "demo", GoalSpec: domain.GoalSpec{Name: "keep", Metric: "members.leavers", Target: 1,
		Deadline: day("2026-03-31"), HasDeadline: true, Baseline: day("2026-02-01")}}
	for _, c := range []struct {
		goal    domain.Goal
		at      time.Time
		want    domain.Status
		current float64
	}{
		// Two members in the first days, growing: the trend reaches five.
		{grow, w.Day("2026-01-08", "12:00"), domain.OnTrack, 2},
		// e joins on 2 February: five members.
		{grow, w.Day("2026-02-02", "12:00"), domain.Achieved, 5},
		// b left on 10 February, the deadline: four on the day.
		{grow, w.Day("2026-02-12", "12:00"), domain.Missed, 4},
		// e's activity makes three active members.
		{engage, w.Day("2026-02-05", "12:00"), domain.Achieved, 3},
		// a's and e's activity have lapsed; d alone, and falling.
		{engage, w.Day("2026-03-01", "12:00"), domain.OffTrack, 1},
		// At most one leaver from February: none yet, none coming; then b
		// left, and at that pace the ceiling goes; then e was erased.
		{fewLeavers, w.Day("2026-02-09", "12:00"), domain.OnTrack, 0},
		{fewLeavers, w.Day("2026-02-15", "12:00"), domain.OffTrack, 1},
		{fewLeavers, w.Day("2026-03-02", "12:00"), domain.OffTrack, 2},
		{fewLeavers, w.Day("2026-04-02", "12:00"), domain.Missed, 2},
	} {
		r.now = c.at
		p, err := r.engine.Progress(context.Background(), c.goal)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != c.want || !near(p.Current, c.current) {
			t.Errorf("%s on %s: %s at %v (%s), want %s at %v", c.goal.Name, c.at.Format(time.DateOnly), p.Status, p.Current, p.Message, c.want, c.current)
		}
	}
}
