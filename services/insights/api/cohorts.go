package api

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// Cohort is the members who joined in one week and how many were active
// in each week after.
type Cohort struct {
	Week   domain.Day
	Size   int64
	Active []int64
}

// Cohorts answers the retention table for the cohorts of the weeks from
// to to (ISO dates; empty: the 12 weeks up to today).
func (e *Engine) Cohorts(ctx context.Context, community, from, to string, seg domain.Segment) ([]Cohort, *time.Location, error) {
	today, loc, err := e.today(community)
	if err != nil {
		return nil, nil, err
	}
	seg, errs := seg.Normalise("segment")
	first, last, derrs := e.period(from, to, domain.ByWeek, today, 12)
	if err := append(errs, derrs...).Err(); err != nil {
		return nil, loc, err
	}
	first, last = domain.WeekStart(first), domain.WeekStart(last)
	read := e.bucketReader(ctx, community, seg, first, last+6)
	cells, err := read(domain.BucketCohort, "")
	if err != nil {
		return nil, loc, err
	}
	joins, err := read(domain.BucketNewcomers, "")
	if err != nil {
		return nil, loc, err
	}
	var out []Cohort
	for w := first; w <= last; w += 7 {
		c := Cohort{Week: w}
		for d := range 7 {
			c.Size += int64(at(joins[""], int(w-first)+d))
		}
		for k := 1; k <= domain.CohortWeeks && w+domain.Day(7*k) <= today; k++ {
			c.Active = append(c.Active, int64(at(cells[strconv.Itoa(k)], int(w-first))))
		}
		out = append(out, c)
	}
	return out, loc, nil
}

func at(v []float64, i int) float64 {
	if i < 0 || i >= len(v) {
		return 0
	}
	return v[i]
}

// Funnel steps, in order.
var funnelSteps = []string{"joined", "welcomed", "profile_completed", "first_event", "onboarded"}

// FunnelStep is one step's numbers.
type FunnelStep struct {
	Name                string
	Members             int64
	FromPrevious, OfAll float64
	MedianDays          float64
	Timed               int64
}

// Funnel is the onboarding of one cohort.
type Funnel struct {
	From, To              domain.Day
	Steps                 []FunnelStep
	FirstEventMedian, P90 float64
	FirstEventMembers     int64
}

// Funnel follows the members who joined from from to to (empty: the 90
// days up to today) through onboarding.
func (e *Engine) Funnel(ctx context.Context, community, from, to string, seg domain.Segment) (Funnel, error) {
	today, loc, err := e.today(community)
	if err != nil {
		return Funnel{}, err
	}
	seg, errs := seg.Normalise("segment")
	if from == "" {
		from = max(today-89, e.firstDay(today)).String()
	}
	first, last, derrs := e.period(from, to, domain.ByDay, today, 1)
	if err := append(errs, derrs...).Err(); err != nil {
		return Funnel{}, err
	}
	members, err := e.store.Members(ctx, community, store.MemberQuery{Segment: seg, JoinedFrom: first.Start(loc), JoinedTo: (last + 1).Start(loc)})
	if err != nil {
		return Funnel{}, err
	}
	f := Funnel{From: first, To: last}
	times := func(m domain.Member) []time.Time {
		return []time.Time{m.JoinedAt, m.WelcomedAt, m.ProfileCompletedAt, m.FirstEventAt, m.OnboardedAt}
	}
	reached := func(m domain.Member, i int) bool {
		if i == 2 {
			return m.ProfileComplete || !m.ProfileCompletedAt.IsZero()
		}
		return !times(m)[i].IsZero()
	}
	var firstEvent []float64
	for _, m := range members {
		if !m.FirstEventAt.IsZero() {
			firstEvent = append(firstEvent, days(m.FirstEventAt.Sub(m.JoinedAt)))
		}
	}
	for i, name := range funnelSteps {
		st := FunnelStep{Name: name}
		var waits []float64
		for _, m := range members {
			all := true
			for j := 0; j <= i; j++ {
				all = all && reached(m, j)
			}
			if !all {
				continue
			}
			st.Members++
			if i == 0 {
				continue
			}
			ts := times(m)
			if prev := ts[i-1]; !ts[i].IsZero() && !prev.IsZero() {
				waits = append(waits, days(ts[i].Sub(prev)))
			}

		}
		st.Timed, st.MedianDays = int64(len(waits)), domain.Quantile(waits, 0.5)
		st.FromPrevious, st.OfAll = 1, 1
		if i > 0 {
			st.FromPrevious = share(st.Members, f.Steps[i-1].Members)
			st.OfAll = share(st.Members, f.Steps[0].Members)
		}
		f.Steps = append(f.Steps, st)
	}
	f.FirstEventMembers = int64(len(firstEvent))
	f.FirstEventMedian, f.P90 = domain.Quantile(firstEvent, 0.5), domain.Quantile(firstEvent, 0.9)
	return f, nil
}

func share(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// Progress says where goal g stands today.
func (e *Engine) Progress(ctx context.Context, g domain.Goal) (domain.Progress, error) {
	today, loc, err := e.today(g.Community)
	if err != nil {
		return domain.Progress{}, err
	}
	m, ok := domain.Lookup(g.Metric)
	if !ok {
		return domain.Progress{}, validate.Field("metric", "is not a metric of the catalogue")
	}
	if g.Archived {
		return domain.Evaluate(g, m, today, nil, today), nil
	}
	from := max(min(g.Baseline, today-domain.TrendDays-domain.ActiveWindow), e.firstDay(today))
	values, err := e.goalValues(ctx, g, m, loc, from, today)
	if err != nil {
		return domain.Progress{}, err
	}
	return domain.Evaluate(g, m, from, values, today), nil
}

// goalValues are g's values for days from..to.
func (e *Engine) goalValues(ctx context.Context, g domain.Goal, m domain.Metric, loc *time.Location, from, to domain.Day) ([]float64, error) {
	out := make([]float64, int(to-from)+1)
	switch m.Special {
	case domain.SpecialTimeToFirstEvent:
		samples, err := e.firstEventSamples(ctx, g.Community, loc, from-domain.ActiveWindow+1, to)
		if err != nil {
			return nil, err
		}
		for i := range out {
			d := from + domain.Day(i)
			var vs []float64
			for _, s := range samples {
				if s.Day > d-domain.ActiveWindow && s.Day <= d {
					vs = append(vs, s.Value)
				}
			}
			out[i] = domain.Quantile(vs, m.Quantile)
		}
		return out, nil
	case domain.SpecialQuota:
		var periods []domain.Period
		for d := from; d <= to; d++ {
			periods = append(periods, domain.Period{Start: d - domain.ActiveWindow + 1, End: d})
		}
		roles, err := e.store.Roles(ctx, g.Community, domain.RoleAmbassador)
		if err != nil {
			return nil, err
		}
		types := make([]string, len(e.quotas))
		for i, q := range e.quotas {
			types[i] = q.Activity
		}
		acts, err := e.store.ActivitiesOf(ctx, g.Community, domain.RoleAmbassador, types, (from - domain.ActiveWindow + 1).Start(loc), (to + 1).Start(loc))
		if err != nil {
			return nil, err
		}
		for i, p := range periods {
			met, all := quotaShare(roles, acts, e.quotas, loc, p.Start, p.End)
			if all > 0 {
				out[i] = met / all
			}
		}
		return out, nil
	}
	read := from
	if m.Kind == domain.KindRatio && !m.LevelRatio {
		read = from - domain.ActiveWindow + 1
	}
	daily, err := e.daily(ctx, g.Community, m, g.Segment, read, to)
	if err != nil {
		return nil, err
	}
	line, ok := daily[g.BreakdownValue]
	if !ok {
		return out, nil
	}
	values := domain.GoalValues(m, line, g.Baseline)
	copy(out, values[int(from-read):])
	return out, nil
}

// sortedGoals orders goals by name.
func sortedGoals(gs []domain.Goal) []domain.Goal {
	slices.SortFunc(gs, func(a, b domain.Goal) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return gs
}
