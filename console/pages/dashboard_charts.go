package pages

import (
	"context"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
)

// seriesChart is a metric over the last weeks as a bar or line chart.
type seriesChart struct {
	metric, title, kind string
}

var dashboardSeries = []seriesChart{
	{"members.newcomers", "Newcomers per week", "bar"},
	{"members.active", "Active members", "line"},
	{"events.checkins", "Check-ins per week", "bar"},
	{"events.attendance_rate", "Attendance rate", "line"},
}

// insightsCharts queries the insights API in g; the returned charts are
// filled once g is done (a failed chart stays empty).
func (s *Server) insightsCharts(ctx context.Context, g *errgroup.Group, d *dashboardPage, mu *sync.Mutex, fail func(string)) []chart {
	to := time.Now().UTC()
	from := to.AddDate(0, 0, -7*dashboardWeeks)
	fromDate, toDate := from.Format("2006-01-02"), to.Format("2006-01-02")
	charts := make([]chart, len(dashboardSeries)+1)
	g.Go(func() error {
		res, err := s.api.Goals.ListGoals(ctx, connect.NewRequest(&insightsv1.ListGoalsRequest{Community: s.opts.Community}))
		if err != nil {
			fail("goals")
			return nil
		}
		mu.Lock()
		d.Goals = res.Msg.GetGoals()
		mu.Unlock()
		return nil
	})
	for i, sc := range dashboardSeries {
		g.Go(func() error {
			res, err := s.api.Insights.QueryMetric(ctx, connect.NewRequest(&insightsv1.QueryMetricRequest{Community: s.opts.Community,
				Metric: sc.metric, FromDate: fromDate, ToDate: toDate, Granularity: insightsv1.Granularity_GRANULARITY_WEEK}))
			if err != nil {
				fail(sc.title)
				return nil
			}
			charts[i] = seriesConfig(fmt.Sprintf("chart-%d", i), sc, res.Msg)
			return nil
		})
	}
	g.Go(func() error {
		res, err := s.api.Insights.GetCohorts(ctx, connect.NewRequest(&insightsv1.GetCohortsRequest{Community: s.opts.Community, FromDate: fromDate, ToDate: toDate}))
		if err != nil {
			fail("retention cohorts")
			return nil
		}
		charts[len(dashboardSeries)] = cohortConfig(res.Msg)
		return nil
	})
	g.Go(func() error {
		res, err := s.api.Insights.GetFunnel(ctx, connect.NewRequest(&insightsv1.GetFunnelRequest{Community: s.opts.Community,
			FromDate: to.AddDate(0, 0, -90).Format("2006-01-02"), ToDate: toDate}))
		if err != nil {
			fail("onboarding funnel")
			return nil
		}
		mu.Lock()
		d.Funnel = res.Msg
		mu.Unlock()
		return nil
	})
	g.Go(func() error {
		res, err := s.api.Insights.QueryMetric(ctx, connect.NewRequest(&insightsv1.QueryMetricRequest{Community: s.opts.Community,
			Metric: "communications.bounced", FromDate: to.AddDate(0, 0, -7).Format("2006-01-02"), ToDate: toDate, Granularity: insightsv1.Granularity_GRANULARITY_DAY}))
		if err == nil {
			var sum float64
			for _, sr := range res.Msg.GetSeries() {
				if sr.GetBreakdownValue() == "" {
					for _, p := range sr.GetPoints() {
						sum += p.GetValue()
					}
				}
			}
			mu.Lock()
			d.Bounced = sum
			mu.Unlock()
		}
		return nil
	})
	return charts
}

// seriesConfig turns a metric's total series into a chart.
func seriesConfig(id string, sc seriesChart, res *insightsv1.QueryMetricResponse) chart {
	var labels []string
	var values []float64
	for _, sr := range res.GetSeries() {
		if sr.GetBreakdownValue() != "" {
			continue
		}
		for _, p := range sr.GetPoints() {
			labels = append(labels, p.GetPeriodStart())
			values = append(values, p.GetValue())
		}
	}
	ch := chart{ID: id, Title: sc.title}
	if n := len(values); n > 0 {
		ch.Summary = fmt.Sprintf("%s: %s in the week of %s.", sc.title, formatValue(values[n-1], res.GetMetric().GetUnit()), labels[n-1])
	} else {
		ch.Summary = sc.title + ": no data yet."
	}
	ch.Config = map[string]any{
		"type": sc.kind,
		"data": map[string]any{"labels": labels, "datasets": []map[string]any{{
			"label": sc.title, "data": values, "backgroundColor": "rgba(47,63,158,0.75)", "borderColor": "#2f3f9e", "tension": 0.2, "fill": false}}},
		"options": map[string]any{"plugins": map[string]any{"legend": map[string]any{"display": false}},
			"scales": map[string]any{"y": map[string]any{"beginAtZero": true}}},
	}
	return ch
}

// formatValue shows a metric's value: ratios as percentages, counts with
// their unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case "ratio", "share", "%":
		return fmt.Sprintf("%.0f%%", v*100)
	case "":
		return trimFloat(v)
	}
	return trimFloat(v) + " " + unit
}

// cohortConfig draws the retention table as a heat map: one row per
// weekly cohort, one column per week after joining.
func cohortConfig(res *insightsv1.GetCohortsResponse) chart {
	type row struct {
		Label  string     `json:"label"`
		Values []*float64 `json:"values"`
	}
	weeks := 0
	for _, c := range res.GetCohorts() {
		weeks = max(weeks, len(c.GetShare()))
	}
	cols := make([]string, weeks)
	for i := range cols {
		cols[i] = fmt.Sprintf("W+%d", i+1)
	}
	var rows []row
	for _, c := range res.GetCohorts() {
		r := row{Label: fmt.Sprintf("%s (%d)", c.GetWeekStart(), c.GetSize()), Values: make([]*float64, weeks)}
		for i, v := range c.GetShare() {
			r.Values[i] = &v
		}
		rows = append(rows, r)
	}
	return chart{ID: "chart-cohorts", Title: "Retention by weekly cohort",
		Summary: fmt.Sprintf("%d weekly cohorts; each cell is the share of the cohort active that many weeks after joining.", len(rows)),
		Config:  map[string]any{"heatmap": map[string]any{"rows": rows, "columns": cols}}}
}
