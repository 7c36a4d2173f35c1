package domain

import (
	"math"
	"strings"
	"testing"
	"time"
)

func day(s string) Day {
	d, _, err := ParseDay("d", s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestDaysFollowTheCommunitysTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 UTC on 31 March is already 1 April in Berlin (summer time).
	at := time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC)
	if got := DayOf(at, time.UTC).String(); got != "2026-03-31" {
		t.Errorf("UTC day %s", got)
	}
	if got := DayOf(at, berlin).String(); got != "2026-04-01" {
		t.Errorf("Berlin day %s", got)
	}
	if got := day("2026-04-01").Start(berlin); !got.Equal(time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("1 April starts in Berlin at %s", got.UTC())
	}
}

func TestPeriodsAreWholeWeeksAndMonths(t *testing.T) {
	for _, c := range []struct {
		from, to string
		g        Granularity
		want     []string
	}{
		{"2026-03-04", "2026-03-17", ByWeek, []string{"2026-03-02..2026-03-08", "2026-03-09..2026-03-15", "2026-03-16..2026-03-22"}},
		{"2026-01-31", "2026-03-01", ByMonth, []string{"2026-01-01..2026-01-31", "2026-02-01..2026-02-28", "2026-03-01..2026-03-31"}},
		{"2026-12-31", "2027-01-01", ByDay, []string{"2026-12-31..2026-12-31", "2027-01-01..2027-01-01"}},
		// 1 January 2024 was a Monday; 1970-01-01 a Thursday.
		{"2024-01-01", "2024-01-01", ByWeek, []string{"2024-01-01..2024-01-07"}},
		{"1970-01-01", "1970-01-01", ByWeek, []string{"1969-12-29..1970-01-04"}},
	} {
		var got []string
		for _, p := range Periods(day(c.from), day(c.to), c.g) {
			got = append(got, p.Start.String()+".."+p.End.String())
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s..%s by %s = %v, want %v", c.from, c.to, c.g, got, c.want)
		}
	}
}

func TestAnActivityKeepsAMemberActiveForThirtyDaysWithinTheirMembership(t *testing.T) {
	d := day("2026-01-10")
	for _, c := range []struct {
		name     string
		days     []Day
		from, to Day
		want     []Period
	}{
		{"one activity", []Day{d}, d - 5, NoDay, []Period{{d, d + 29}}},
		{"overlapping runs merge", []Day{d, d + 20}, d - 5, NoDay, []Period{{d, d + 49}}},
		{"adjacent runs merge", []Day{d, d + 30}, d - 5, NoDay, []Period{{d, d + 59}}},
		{"a gap splits", []Day{d, d + 31}, d - 5, NoDay, []Period{{d, d + 29}, {d + 31, d + 60}}},
		{"leaving ends it", []Day{d}, d - 5, d + 10, []Period{{d, d + 9}}},
		{"activity before joining counts from the join", []Day{d - 10}, d, NoDay, []Period{{d, d + 19}}},
		{"activity after leaving does not count", []Day{d + 5}, d - 5, d + 5, nil},
	} {
		got := ActiveSpans(c.days, c.from, c.to)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
	}
}

func TestAMemberCountsFromJoiningToLeavingAndComingBackUndoesTheLeave(t *testing.T) {
	join := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	m := Member{ID: "m", JoinedAt: join, LeftAt: join.AddDate(0, 0, 10)}
	if _, to, _ := m.Span(time.UTC); to != DayOf(join, time.UTC)+10 {
		t.Errorf("left member spans to %s", to)
	}
	m.RejoinedAt = join.AddDate(0, 0, 12)
	if _, to, _ := m.Span(time.UTC); to != NoDay {
		t.Errorf("a member who came back spans to %s", to)
	}
	m.ErasedAt = join.AddDate(0, 0, 20)
	if _, to, _ := m.Span(time.UTC); to != DayOf(join, time.UTC)+20 {
		t.Errorf("an erased member spans to %s", to)
	}
	if _, _, ok := (Member{LeftAt: join}).Span(time.UTC); ok {
		t.Error("a member whose joining is unknown counts")
	}
}

func TestRolesSettleTheSameInAnyOrder(t *testing.T) {
	t1, t2, t3, t4 := time.Unix(100, 0), time.Unix(200, 0), time.Unix(300, 0), time.Unix(400, 0)
	type op struct {
		assign bool
		tier   string
		at     time.Time
	}
	ops := []op{{true, "bronze", t1}, {false, "", t2}, {true, "silver", t3}, {true, "gold", t4}}
	orders := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}, {2, 0, 3, 1}}
	for _, order := range orders {
		var r Role
		for _, i := range order {
			r.Add(RoleChange{At: ops[i].at, Assigned: ops[i].assign, Tier: ops[i].tier})
		}
		if !r.Holds() || !r.AssignedAt.Equal(t3) || r.Tier != "gold" {
			t.Errorf("order %v: holds %v from %v as %s, want held from %v as gold", order, r.Holds(), r.AssignedAt, r.Tier, t3)
		}
	}
}

func TestQuantilesInterpolateBetweenRanks(t *testing.T) {
	for _, c := range []struct {
		vs   []float64
		q    float64
		want float64
	}{
		{nil, 0.5, 0}, {[]float64{4}, 0.9, 4}, {[]float64{9, 7}, 0.5, 8}, {[]float64{37, 7, 9}, 0.5, 9},
		{[]float64{7, 9, 37}, 0.9, 9 + 0.8*28}, {[]float64{1, 2, 3, 4}, 0.25, 1.75},
	} {
		if got := Quantile(c.vs, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v, %v) = %v, want %v", c.vs, c.q, got, c.want)
		}
	}
}

func TestTheReportScheduleIsAWeeklySlotInTheCommunitysZone(t *testing.T) {
	s, err := ParseSchedule("Mon 08:00")
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		now  time.Time
		due  bool
		week string
	}{
		{time.Date(2026, 3, 16, 6, 59, 0, 0, time.UTC), false, "2026-03-16"}, // 07:59 in Berlin
		{time.Date(2026, 3, 16, 7, 0, 0, 0, time.UTC), true, "2026-03-16"},
		{time.Date(2026, 3, 22, 22, 0, 0, 0, time.UTC), true, "2026-03-16"},   // Sunday 23:00
		{time.Date(2026, 3, 22, 23, 30, 0, 0, time.UTC), false, "2026-03-23"}, // already Monday 00:30
	} {
		due, week := s.Due(c.now, berlin)
		if due != c.due || week.String() != c.week {
			t.Errorf("at %s: due %v week %s, want %v %s", c.now, due, week, c.due, c.week)
		}
	}
	for _, bad := range []string{"", "monday 8", "mon 25:00", "someday"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("schedule %q accepted", bad)
		}
	}
	if off, _ := ParseSchedule("off"); !off.Off {
		t.Error("off is not off")
	}
}

func TestGoalStatusesFollowTheForecast(t *testing.T) {
	m, _ := Lookup("members.total")
	base := day("2026-03-01")
	// values[i] is the goal's value on base+i.
	linear := func(start, perDay float64, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = start + perDay*float64(i)
		}
		return out
	}
	goal := func(target float64, deadline string) Goal {
		g := Goal{GoalSpec: GoalSpec{Metric: m.Name, Target: target, Baseline: base}}
		if deadline != "" {
			g.Deadline, g.HasDeadline = day(deadline), true
		}
		return g
	}
	for _, c := range []struct {
		name   string
		g      Goal
		values []float64
		today  Day
		want   Status
	}{
		// 100 members growing by 2 a day; 20 days in, 40 days to go.
		{"reaches the target at the trend", goal(220, "2026-04-30"), linear(100, 2, 21), base + 20, OnTrack},
		{"falls a little short", goal(240, "2026-04-30"), linear(100, 2, 21), base + 20, AtRisk},
		{"falls far short", goal(400, "2026-04-30"), linear(100, 2, 21), base + 20, OffTrack},
		{"moving away", goal(150, "2026-04-10"), linear(140, -1, 21), base + 20, OffTrack},
		{"reached", goal(130, "2026-04-10"), linear(100, 2, 21), base + 20, Achieved},
		{"the deadline passed short of it", goal(200, "2026-03-15"), linear(100, 2, 21), base + 20, Missed},
		{"the deadline passed with it reached", goal(120, "2026-03-15"), linear(100, 2, 21), base + 20, Achieved},
		{"no deadline, moving toward it", goal(500, ""), linear(100, 2, 21), base + 20, OnTrack},
		{"no deadline, flat", goal(500, ""), linear(100, 0, 21), base + 20, AtRisk},
		{"no deadline, moving away", goal(500, ""), linear(100, -1, 21), base + 20, OffTrack},
	} {
		p := Evaluate(c.g, m, base, c.values, c.today)
		if p.Status != c.want {
			t.Errorf("%s: %s (%s), want %s", c.name, p.Status, p.Message, c.want)
		}
	}
	// The numbers behind it.
	p := Evaluate(goal(220, "2026-04-30"), m, base, linear(100, 2, 21), base+20)
	if p.Current != 140 || p.Baseline != 100 || math.Abs(p.Trend-2) > 1e-9 || !p.HasForecast || math.Abs(p.Forecast-220) > 1e-9 ||
		p.DaysLeft != 40 || math.Abs(p.Progress-1.0/3) > 1e-9 || p.Status.Reason() != "OnTrack" {
		t.Errorf("progress %+v", p)
	}
	if !strings.Contains(p.Message, "members.total is 140 (baseline 100, target 220 by 2026-04-30)") {
		t.Errorf("message %q", p.Message)
	}
	// A missed goal is judged on its deadline.
	p = Evaluate(goal(200, "2026-03-15"), m, base, linear(100, 2, 21), base+20)
	if p.AsOf != day("2026-03-15") || p.Current != 128 {
		t.Errorf("missed goal as of %s at %v", p.AsOf, p.Current)
	}
}

func TestLowerIsBetterGoalsAimDown(t *testing.T) {
	m, _ := Lookup("events.no_show_rate")
	base := day("2026-03-01")
	g := Goal{GoalSpec: GoalSpec{Metric: m.Name, Target: 0.1, Baseline: base, Deadline: day("2026-03-31"), HasDeadline: true}}
	falling := make([]float64, 11)
	for i := range falling {
		falling[i] = 0.4 - 0.02*float64(i) // 0.2 on day 10, 0 by day 20
	}
	if p := Evaluate(g, m, base, falling, base+10); p.Status != OnTrack {
		t.Errorf("falling no-shows: %s %s", p.Status, p.Message)
	}
	if p := Evaluate(g, m, base, []float64{0.4, 0.05}, base+1); p.Status != Achieved {
		t.Errorf("no-shows under the target: %s", p.Status)
	}
	// A ceiling: at most 10 leavers by the end of March, counted from 1
	// March. Being under it is met only on the deadline.
	leavers, _ := Lookup("members.leavers")
	ceiling := Goal{GoalSpec: GoalSpec{Metric: leavers.Name, Target: 10, Baseline: base, Deadline: day("2026-03-31"), HasDeadline: true}}
	for _, c := range []struct {
		perDay float64
		want   Status
	}{{0.2, OnTrack}, {0.4, AtRisk}, {1, OffTrack}} {
		vals := make([]float64, 11)
		for i := range vals {
			vals[i] = c.perDay * float64(i)
		}
		// 20 days to go: 0.2 a day ends at 6, 0.4 at 12 (within a fifth
		// over), 1 at 30.
		if p := Evaluate(ceiling, leavers, base, vals, base+10); p.Status != c.want {
			t.Errorf("leavers at %v a day: %s (%s), want %s", c.perDay, p.Status, p.Message, c.want)
		}
	}
	if p := Evaluate(ceiling, leavers, base, make([]float64, 32), day("2026-04-02")); p.Status != Achieved {
		t.Errorf("no leavers by the deadline: %s", p.Status)
	}
}

func TestGoalsAreCheckedFieldByField(t *testing.T) {
	r := GoalRules{Today: day("2026-03-15"), FirstDay: day("2023-03-15")}
	for _, c := range []struct {
		name  string
		spec  GoalSpec
		field string
	}{
		{"unknown metric", GoalSpec{Name: "g", Metric: "members.happiness", Target: 1}, "goal.metric"},
		{"bad name", GoalSpec{Name: "Grow Fast", Metric: "members.total", Target: 1}, "goal.name"},
		{"no target", GoalSpec{Name: "g", Metric: "members.total"}, "goal.target"},
		{"negative target", GoalSpec{Name: "g", Metric: "members.leavers", Target: -1}, "goal.target"},
		{"a share above 1", GoalSpec{Name: "g", Metric: "events.attendance_rate", Target: 1.5}, "goal.target"},
		{"a rating above 5", GoalSpec{Name: "g", Metric: "events.feedback_mean", Target: 6}, "goal.target"},
		{"not a number", GoalSpec{Name: "g", Metric: "members.total", Target: math.NaN()}, "goal.target"},
		{"deadline in the past", GoalSpec{Name: "g", Metric: "members.total", Target: 1, Deadline: day("2026-03-14"), HasDeadline: true}, "goal.deadline"},
		{"baseline in the future", GoalSpec{Name: "g", Metric: "members.total", Target: 1, Baseline: day("2026-03-16")}, "goal.baseline_date"},
		{"baseline before the series", GoalSpec{Name: "g", Metric: "members.total", Target: 1, Baseline: day("2020-01-01")}, "goal.baseline_date"},
		{"money without a currency", GoalSpec{Name: "g", Metric: "partners.contributions_money", Target: 1}, "goal.breakdown_value"},
		{"a breakdown where there is none", GoalSpec{Name: "g", Metric: "members.total", Target: 1, BreakdownValue: "x"}, "goal.breakdown_value"},
		{"a segment of a metric it cannot filter", GoalSpec{Name: "g", Metric: "events.held", Target: 1, Segment: Segment{Levels: []string{"Core"}}}, "goal.segment"},
		{"a bad country", GoalSpec{Name: "g", Metric: "members.total", Target: 1, Segment: Segment{CountryCodes: []string{"Germany"}}}, "goal.segment.country_codes"},
	} {
		_, _, err := c.spec.Check("goal.", r)
		if err == nil || !strings.Contains(err.Error(), c.field+":") {
			t.Errorf("%s: %v, want an error on %s", c.name, err, c.field)
		}
	}
	ok := GoalSpec{Name: "grow", Metric: "members.leavers", Target: 0, Deadline: day("2026-12-31"), HasDeadline: true}
	if spec, _, err := ok.Check("goal.", r); err != nil || spec.Baseline != r.Today {
		t.Errorf("no leavers by the end of the year: %v, baseline %s", err, spec.Baseline)
	}
}
