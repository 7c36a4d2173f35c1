package api

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/insights/domain"
)

func metricToProto(m domain.Metric) *insightsv1.Metric {
	return &insightsv1.Metric{Name: m.Name, Title: m.Title, Meaning: m.Meaning, Formula: m.Formula, Sources: m.Sources, Unit: m.Unit,
		Kind: map[domain.Kind]insightsv1.MetricKind{domain.KindStock: insightsv1.MetricKind_METRIC_KIND_STOCK, domain.KindFlow: insightsv1.MetricKind_METRIC_KIND_FLOW,
			domain.KindRatio: insightsv1.MetricKind_METRIC_KIND_RATIO, domain.KindQuantile: insightsv1.MetricKind_METRIC_KIND_QUANTILE}[m.Kind],
		Better:    map[domain.Direction]insightsv1.Direction{domain.Up: insightsv1.Direction_DIRECTION_UP, domain.Down: insightsv1.Direction_DIRECTION_DOWN}[m.Better],
		Breakdown: m.Breakdown, Segmentable: m.Segmentable, GoalNeedsBreakdown: m.NoTotal}
}

// granularity reads a requested granularity; unspecified is a week.
func granularity(g insightsv1.Granularity) (domain.Granularity, error) {
	switch g {
	case insightsv1.Granularity_GRANULARITY_UNSPECIFIED, insightsv1.Granularity_GRANULARITY_WEEK:
		return domain.ByWeek, nil
	case insightsv1.Granularity_GRANULARITY_DAY:
		return domain.ByDay, nil
	case insightsv1.Granularity_GRANULARITY_MONTH:
		return domain.ByMonth, nil
	}
	return 0, validate.Field("granularity", "must be day, week or month")
}

func granularityToProto(g domain.Granularity) insightsv1.Granularity {
	return map[domain.Granularity]insightsv1.Granularity{domain.ByDay: insightsv1.Granularity_GRANULARITY_DAY,
		domain.ByWeek: insightsv1.Granularity_GRANULARITY_WEEK, domain.ByMonth: insightsv1.Granularity_GRANULARITY_MONTH}[g]
}

func segmentFromProto(s *insightsv1.Segment) domain.Segment {
	return domain.Segment{Levels: s.GetLevels(), CountryCodes: s.GetCountryCodes(), Interests: s.GetInterests(), Roles: s.GetRoles()}
}

func segmentToProto(s domain.Segment) *insightsv1.Segment {
	if s.Empty() {
		return nil
	}
	return &insightsv1.Segment{Levels: s.Levels, CountryCodes: s.CountryCodes, Interests: s.Interests, Roles: s.Roles}
}

func seriesToProto(s Series) *insightsv1.QueryMetricResponse {
	res := &insightsv1.QueryMetricResponse{Metric: metricToProto(s.Metric), FromDate: s.From.String(), ToDate: s.To.String(),
		Granularity: granularityToProto(s.Granularity), TimeZone: s.Zone.String()}
	for _, l := range s.Lines {
		line := &insightsv1.Series{BreakdownValue: l.Dim}
		for _, p := range l.Points {
			line.Points = append(line.Points, &insightsv1.Point{PeriodStart: p.Start.String(), PeriodEnd: p.End.String(), Value: p.Value,
				Numerator: p.Numerator, Denominator: p.Denominator, Partial: p.Partial, Samples: p.Samples})
		}
		res.Series = append(res.Series, line)
	}
	return res
}

// specFromProto reads a goal as requested; dates are checked here, the
// rest by the domain.
func specFromProto(prefix string, g *insightsv1.GoalSpec) (domain.GoalSpec, validate.Errors) {
	var errs validate.Errors
	spec := domain.GoalSpec{Name: g.GetName(), Metric: g.GetMetric(), Segment: segmentFromProto(g.GetSegment()),
		BreakdownValue: g.GetBreakdownValue(), Target: g.GetTarget(), Description: g.GetDescription()}
	var ferr *validate.FieldError
	if spec.Deadline, spec.HasDeadline, ferr = domain.ParseDay(prefix+"deadline", g.GetDeadline()); ferr != nil {
		errs = append(errs, ferr)
	}
	if spec.Baseline, _, ferr = domain.ParseDay(prefix+"baseline_date", g.GetBaselineDate()); ferr != nil {
		errs = append(errs, ferr)
	}
	return spec, errs
}

func specToProto(s domain.GoalSpec) *insightsv1.GoalSpec {
	out := &insightsv1.GoalSpec{Name: s.Name, Metric: s.Metric, Segment: segmentToProto(s.Segment), BreakdownValue: s.BreakdownValue,
		Target: s.Target, BaselineDate: s.Baseline.String(), Description: s.Description}
	if s.HasDeadline {
		out.Deadline = s.Deadline.String()
	}
	return out
}

var statusToProto = map[domain.Status]insightsv1.GoalStatus{
	domain.OnTrack: insightsv1.GoalStatus_GOAL_STATUS_ON_TRACK, domain.AtRisk: insightsv1.GoalStatus_GOAL_STATUS_AT_RISK,
	domain.OffTrack: insightsv1.GoalStatus_GOAL_STATUS_OFF_TRACK, domain.Achieved: insightsv1.GoalStatus_GOAL_STATUS_ACHIEVED,
	domain.Missed: insightsv1.GoalStatus_GOAL_STATUS_MISSED, domain.Archived: insightsv1.GoalStatus_GOAL_STATUS_ARCHIVED,
}

func goalToProto(g domain.Goal, p domain.Progress) *insightsv1.Goal {
	m, _ := domain.Lookup(g.Metric)
	src := insightsv1.GoalSource_GOAL_SOURCE_API
	if g.Source == domain.SourceResource {
		src = insightsv1.GoalSource_GOAL_SOURCE_RESOURCE
	}
	return &insightsv1.Goal{Community: g.Community, Spec: specToProto(g.GoalSpec), Source: src, Archived: g.Archived,
		CreatedAt: timestamppb.New(g.CreatedAt), UpdatedAt: timestamppb.New(g.UpdatedAt), Unit: m.Unit,
		Progress: &insightsv1.GoalProgress{Status: statusToProto[p.Status], AsOf: p.AsOf.String(), Current: p.Current, Baseline: p.Baseline,
			Target: p.Target, Progress: p.Progress, TrendPerDay: p.Trend, Forecast: p.Forecast, HasForecast: p.HasForecast,
			DaysLeft: int32(p.DaysLeft), Reason: p.Status.Reason(), Message: p.Message}}
}
