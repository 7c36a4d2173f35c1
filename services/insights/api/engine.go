package api

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// Engine answers metrics, cohorts, funnels and goals from the store.
type Engine struct {
	store      *store.Store
	quotas     []domain.Quota
	seriesDays int
	now        func() time.Time
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Quotas are the ambassador programme's quotas.
	Quotas []domain.Quota
	// SeriesDays is how far back series are answered.
	SeriesDays int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewEngine reads s.
func NewEngine(s *store.Store, cfg EngineConfig) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{store: s, quotas: cfg.Quotas, seriesDays: cfg.SeriesDays, now: cfg.Now}
}

// Store is the engine's store.
func (e *Engine) Store() *store.Store { return e.store }

// today is community's current day and time zone.
func (e *Engine) today(community string) (domain.Day, *time.Location, error) {
	loc, ok := e.store.Zone(community)
	if !ok {
		return 0, nil, errUnknownCommunity
	}
	return domain.DayOf(e.now(), loc), loc, nil
}

// firstDay is the first day the series answer.
func (e *Engine) firstDay(today domain.Day) domain.Day { return today - domain.Day(e.seriesDays) + 1 }

// SeriesQuery asks for one metric over a period.
type SeriesQuery struct {
	Community   string
	Metric      string
	From, To    string
	Granularity domain.Granularity
	Segment     domain.Segment
}

// Series is a metric's answer: the total (Dim "") and each breakdown
// value.
type Series struct {
	Metric      domain.Metric
	From, To    domain.Day
	Granularity domain.Granularity
	Zone        *time.Location
	Lines       []Line
}

// Line is one series of points.
type Line struct {
	Dim    string
	Points []domain.Point
}

// Series answers q.
func (e *Engine) Series(ctx context.Context, q SeriesQuery) (Series, error) {
	today, loc, err := e.today(q.Community)
	if err != nil {
		return Series{}, err
	}
	var errs validate.Errors
	m, ok := domain.Lookup(q.Metric)
	if !ok {
		errs = append(errs, validate.Field("metric", "is not a metric of the catalogue (ListMetrics lists them)"))
	}
	seg, serrs := q.Segment.Normalise("segment")
	errs = append(errs, serrs...)
	if ok && !seg.Empty() && !m.Segmentable {
		errs = append(errs, validate.Field("segment", "cannot filter %s", m.Name))
	}
	from, to, derrs := e.period(q.From, q.To, q.Granularity, today, 12)
	errs = append(errs, derrs...)
	if err := errs.Err(); err != nil {
		return Series{}, err
	}
	periods := domain.Periods(from, to, q.Granularity)
	out := Series{Metric: m, From: periods[0].Start, To: periods[len(periods)-1].End, Granularity: q.Granularity, Zone: loc}
	last := min(out.To, today)
	switch m.Special {
	case domain.SpecialTimeToFirstEvent:
		samples, err := e.firstEventSamples(ctx, q.Community, loc, out.From, last)
		if err != nil {
			return out, err
		}
		out.Lines = []Line{{Points: domain.AggregateSamples(m.Quantile, samples, periods, today)}}
		return out, nil
	case domain.SpecialQuota:
		pts, err := e.quotaPoints(ctx, q.Community, loc, periods, today)
		if err != nil {
			return out, err
		}
		out.Lines = []Line{{Points: pts}}
		return out, nil
	}
	daily, err := e.daily(ctx, q.Community, m, seg, out.From, last)
	if err != nil {
		return out, err
	}
	for _, dim := range dims(m, daily) {
		out.Lines = append(out.Lines, Line{Dim: dim, Points: domain.Aggregate(m, daily[dim], periods, today)})
	}
	return out, nil
}

// dims are the lines to answer: the total first (unless the metric has
// none), then each breakdown value by name.
func dims(m domain.Metric, daily map[string]domain.Daily) []string {
	var out []string
	for d := range daily {
		if d != "" {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	if !m.NoTotal {
		out = append([]string{""}, out...)
	}
	return out
}

// period checks from and to (ISO dates, either empty) and returns the
// days to answer: whole periods of g, back to n periods before to when
// from is empty, and not after today.
func (e *Engine) period(rawFrom, rawTo string, g domain.Granularity, today domain.Day, n int) (domain.Day, domain.Day, validate.Errors) {
	var errs validate.Errors
	from, hasFrom, ferr := domain.ParseDay("from_date", rawFrom)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	to, hasTo, terr := domain.ParseDay("to_date", rawTo)
	if terr != nil {
		errs = append(errs, terr)
	}
	if len(errs) > 0 {
		return 0, 0, errs
	}
	if !hasTo || to > today {
		to = today
	}
	if !hasFrom {
		from = domain.PeriodStart(to, g)
		for range n - 1 {
			from = domain.PeriodStart(from-1, g)
		}
		from = max(from, domain.PeriodStart(e.firstDay(today), g))
	}
	first := e.firstDay(today)
	switch {
	case hasFrom && hasTo && to < from:
		errs = append(errs, validate.Field("to_date", "must not be before from_date"))
	case from > today:
		errs = append(errs, validate.Field("from_date", "must not be in the future"))
	case domain.PeriodStart(from, g) < domain.PeriodStart(first, g):
		errs = append(errs, validate.Field("from_date", "must not be before %s: the series keep %d days", first, e.seriesDays))
	}
	return from, to, errs
}

// daily reads metric m's raw daily values for days from..to, per
// breakdown value and in total ("").
func (e *Engine) daily(ctx context.Context, community string, m domain.Metric, seg domain.Segment, from, to domain.Day) (map[string]domain.Daily, error) {
	read := e.bucketReader(ctx, community, seg, from, to)
	out := map[string]domain.Daily{}
	line := func(dim string) domain.Daily {
		d, ok := out[dim]
		if !ok {
			d = domain.Daily{From: from, Num: make([]float64, int(to-from)+1), Den: make([]float64, int(to-from)+1)}
			out[dim] = d
		}
		return d
	}
	add := func(terms []domain.Term, den bool) error {
		for _, t := range terms {
			vals, err := read(t.Bucket, t.Dim)
			if err != nil {
				return err
			}
			for dim, v := range vals {
				targets := []string{""}
				if m.Breakdown != "" && t.Dim == "" {
					targets = append(targets, dim)
				}
				for _, target := range targets {
					l := line(target)
					dst := l.Num
					if den {
						dst = l.Den
					}
					for i := range v {
						dst[i] += float64(t.Sign) * v[i]
					}
				}
			}
		}
		return nil
	}
	line("")
	if err := add(m.Terms, false); err != nil {
		return nil, err
	}
	if err := add(m.Den, true); err != nil {
		return nil, err
	}
	return out, nil
}

// bucketReader reads buckets: the stored ones, or — for a segment — the
// contributions of the segment's members computed here.
func (e *Engine) bucketReader(ctx context.Context, community string, seg domain.Segment, from, to domain.Day) func(bucket, dim string) (map[string][]float64, error) {
	if seg.Empty() {
		return func(bucket, dim string) (map[string][]float64, error) {
			return e.store.Buckets(ctx, community, bucket, dim, from, to)
		}
	}
	var deltas domain.Deltas
	return func(bucket, dim string) (map[string][]float64, error) {
		if deltas == nil {
			loc, _ := e.store.Zone(community)
			members, err := e.store.Members(ctx, community, store.MemberQuery{Segment: seg, WithDays: true})
			if err != nil {
				return nil, err
			}
			deltas = domain.Deltas{}
			for _, m := range members {
				m.AddContributions(deltas, loc)
			}
		}
		return fromDeltas(deltas, bucket, dim, from, to), nil
	}
}

// fromDeltas is store.Buckets over deltas held in memory.
func fromDeltas(d domain.Deltas, bucket, dim string, from, to domain.Day) map[string][]float64 {
	out := map[string][]float64{}
	level := domain.LevelBuckets[bucket]
	for k, v := range d {
		if k.Bucket != bucket || (dim != "" && k.Dim != dim) || k.Day > to || (!level && k.Day < from) {
			continue
		}
		s, ok := out[k.Dim]
		if !ok {
			s = make([]float64, int(to-from)+1)
			out[k.Dim] = s
		}
		i := max(int(k.Day-from), 0)
		if !level {
			s[i] += float64(v)
			continue
		}
		for j := i; j < len(s); j++ {
			s[j] += float64(v)
		}
	}
	return out
}

// firstEventSamples are the days from joining to the first check-in, by
// the day of that check-in, for first check-ins from from to to.
func (e *Engine) firstEventSamples(ctx context.Context, community string, loc *time.Location, from, to domain.Day) ([]domain.Sample, error) {
	members, err := e.store.FirstEvents(ctx, community, from.Start(loc), (to + 1).Start(loc))
	if err != nil {
		return nil, err
	}
	out := make([]domain.Sample, 0, len(members))
	for _, m := range members {
		out = append(out, domain.Sample{Day: domain.DayOf(m.FirstEventAt, loc), Value: days(m.FirstEventAt.Sub(m.JoinedAt))})
	}
	return out, nil
}

// days is d in days, never negative.
func days(d time.Duration) float64 { return max(d.Hours()/24, 0) }

// quotaPoints answers ambassadors.quota_attainment for each period: of
// the ambassadors on its last day, the share who met every quota within
// it.
func (e *Engine) quotaPoints(ctx context.Context, community string, loc *time.Location, periods []domain.Period, today domain.Day) ([]domain.Point, error) {
	roles, err := e.store.Roles(ctx, community, domain.RoleAmbassador)
	if err != nil {
		return nil, err
	}
	types := make([]string, len(e.quotas))
	for i, q := range e.quotas {
		types[i] = q.Activity
	}
	first, last := periods[0].Start, min(periods[len(periods)-1].End, today)
	acts, err := e.store.ActivitiesOf(ctx, community, domain.RoleAmbassador, types, first.Start(loc), (last + 1).Start(loc))
	if err != nil {
		return nil, err
	}
	out := make([]domain.Point, 0, len(periods))
	for _, p := range periods {
		pt := domain.Point{Period: p, Partial: p.End >= today}
		end := min(p.End, today)
		if end >= p.Start {
			pt.Numerator, pt.Denominator = quotaShare(roles, acts, e.quotas, loc, p.Start, end)
			if pt.Denominator > 0 {
				pt.Value = pt.Numerator / pt.Denominator
			}
		}
		out = append(out, pt)
	}
	return out, nil
}

// quotaShare counts the ambassadors holding the role on day end and those
// of them whose activities from start to end meet every quota.
func quotaShare(roles []domain.Role, acts []store.Activity, quotas []domain.Quota, loc *time.Location, start, end domain.Day) (met, all float64) {
	holding := map[string]map[string]int{}
	for _, r := range roles {
		if r.AssignedAt.IsZero() || domain.DayOf(r.AssignedAt, loc) > end {
			continue
		}
		if !r.Holds() && domain.DayOf(r.RevokedAt, loc) <= end {
			continue
		}
		holding[r.MemberID] = map[string]int{}
	}
	for _, a := range acts {
		if counts, ok := holding[a.MemberID]; ok {
			if d := domain.DayOf(a.At, loc); d >= start && d <= end {
				counts[a.Type]++
			}
		}
	}
	for _, counts := range holding {
		all++
		if domain.QuotaMet(quotas, counts) {
			met++
		}
	}
	return met, all
}

// errUnknownCommunity is a community the instance does not serve.
var errUnknownCommunity = fmt.Errorf("%w", store.ErrUnknownCommunity)
