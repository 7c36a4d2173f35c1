package api

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/csvout"
	"github.com/kinshiphq/kinship/services/insights/domain"
)

// Insights serves InsightsService.
type Insights struct{ base }

var _ insightsv1connect.InsightsServiceHandler = (*Insights)(nil)

// NewInsights serves the metrics of d's engine.
func NewInsights(d Deps) *Insights { return &Insights{newBase(d)} }

// ListMetrics returns the catalogue.
func (h *Insights) ListMetrics(ctx context.Context, req *connect.Request[insightsv1.ListMetricsRequest]) (*connect.Response[insightsv1.ListMetricsResponse], error) {
	if _, err := h.community(req.Msg.GetCommunity()); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &insightsv1.ListMetricsResponse{}
	for _, m := range domain.Catalogue() {
		res.Metrics = append(res.Metrics, metricToProto(m))
	}
	return connect.NewResponse(res), nil
}

// series checks a query and answers it.
func (h *Insights) series(ctx context.Context, community, metric, from, to string, g insightsv1.Granularity, seg *insightsv1.Segment) (Series, error) {
	c, err := h.community(community)
	if err != nil {
		return Series{}, err
	}
	gran, err := granularity(g)
	if err != nil {
		return Series{}, err
	}
	return h.engine.Series(ctx, SeriesQuery{Community: c, Metric: metric, From: from, To: to, Granularity: gran, Segment: segmentFromProto(seg)})
}

// QueryMetric answers one metric over a period.
func (h *Insights) QueryMetric(ctx context.Context, req *connect.Request[insightsv1.QueryMetricRequest]) (*connect.Response[insightsv1.QueryMetricResponse], error) {
	m := req.Msg
	s, err := h.series(ctx, m.GetCommunity(), m.GetMetric(), m.GetFromDate(), m.GetToDate(), m.GetGranularity(), m.GetSegment())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(seriesToProto(s)), nil
}

// GetCohorts answers the retention table.
func (h *Insights) GetCohorts(ctx context.Context, req *connect.Request[insightsv1.GetCohortsRequest]) (*connect.Response[insightsv1.GetCohortsResponse], error) {
	c, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	cohorts, loc, err := h.engine.Cohorts(ctx, c, req.Msg.GetFromDate(), req.Msg.GetToDate(), segmentFromProto(req.Msg.GetSegment()))
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &insightsv1.GetCohortsResponse{TimeZone: loc.String()}
	for _, co := range cohorts {
		out := &insightsv1.Cohort{WeekStart: co.Week.String(), Size: co.Size, Active: co.Active}
		for _, a := range co.Active {
			out.Share = append(out.Share, share(a, co.Size))
		}
		res.Cohorts = append(res.Cohorts, out)
	}
	return connect.NewResponse(res), nil
}

// GetFunnel answers the onboarding funnel.
func (h *Insights) GetFunnel(ctx context.Context, req *connect.Request[insightsv1.GetFunnelRequest]) (*connect.Response[insightsv1.GetFunnelResponse], error) {
	c, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	f, err := h.engine.Funnel(ctx, c, req.Msg.GetFromDate(), req.Msg.GetToDate(), segmentFromProto(req.Msg.GetSegment()))
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &insightsv1.GetFunnelResponse{FromDate: f.From.String(), ToDate: f.To.String(), TimeToFirstEventMedianDays: f.FirstEventMedian,
		TimeToFirstEventP90Days: f.P90, FirstEventMembers: f.FirstEventMembers}
	for _, s := range f.Steps {
		res.Steps = append(res.Steps, &insightsv1.FunnelStep{Name: s.Name, Members: s.Members, ConversionFromPrevious: s.FromPrevious,
			ConversionFromStart: s.OfAll, MedianDays: s.MedianDays, Timed: s.Timed})
	}
	return connect.NewResponse(res), nil
}

// ExportSeries streams a series as CSV.
func (h *Insights) ExportSeries(ctx context.Context, req *connect.Request[insightsv1.ExportSeriesRequest], stream *connect.ServerStream[insightsv1.ExportSeriesResponse]) error {
	m := req.Msg
	community, err := auth.Confine(ctx, m.GetCommunity())
	if err != nil {
		return err
	}
	s, err := h.series(ctx, community, m.GetMetric(), m.GetFromDate(), m.GetToDate(), m.GetGranularity(), m.GetSegment())
	if err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.audit.RecordNow(ctx, community, "insights.series_exported", "metric", s.Metric.Name); err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	w := csvout.NewWriter(func(chunk []byte) error { return stream.Send(&insightsv1.ExportSeriesResponse{Chunk: chunk}) })
	if err := writeSeries(w, s); err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	return w.Flush()
}

// writeSeries writes s as CSV rows: one per period and line.
func writeSeries(w *csvout.Writer, s Series) error {
	cols := []string{"metric", "period_start", "period_end"}
	if s.Metric.Breakdown != "" {
		cols = append(cols, s.Metric.Breakdown)
	}
	cols = append(cols, "value")
	ratio := s.Metric.Kind == domain.KindRatio
	if ratio {
		cols = append(cols, "numerator", "denominator")
	}
	if s.Metric.Kind == domain.KindQuantile {
		cols = append(cols, "samples")
	}
	cols = append(cols, "partial")
	if err := w.Header(cols...); err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, l := range s.Lines {
		for _, p := range l.Points {
			row := []string{s.Metric.Name, p.Start.String(), p.End.String()}
			if s.Metric.Breakdown != "" {
				dim := l.Dim
				if dim == "" {
					dim = "total"
				}
				row = append(row, dim)
			}
			row = append(row, num(p.Value))
			if ratio {
				row = append(row, num(p.Numerator), num(p.Denominator))
			}
			if s.Metric.Kind == domain.KindQuantile {
				row = append(row, strconv.FormatInt(p.Samples, 10))
			}
			row = append(row, strconv.FormatBool(p.Partial))
			if err := w.Row(row...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Rebuild reads the community's facts again from the services'
// histories, streaming progress about every second.
func (h *Insights) Rebuild(ctx context.Context, req *connect.Request[insightsv1.RebuildRequest], stream *connect.ServerStream[insightsv1.RebuildResponse]) error {
	community, err := auth.Confine(ctx, req.Msg.GetCommunity())
	if err != nil {
		return err
	}
	c, err := h.community(community)
	if err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	last := h.now()
	res, err := h.rebuilder.Rebuild(ctx, c, func(tx *sql.Tx) error {
		return h.audit.Record(ctx, tx, c, "insights.rebuilt", "community", c)
	}, func(read int64) {
		if now := h.now(); now.Sub(last) >= time.Second {
			last = now
			_ = stream.Send(&insightsv1.RebuildResponse{RecordsRead: read}) // a lost progress message is harmless
		}
	})
	if err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "insights rebuilt", "community", c, "by", actor(ctx), "took_ms", res.Took.Milliseconds(), "read_ms", res.Read.Milliseconds())
	out := &insightsv1.RebuildResponse{Done: true, EstimatedLeaveTimes: res.Estimated, Took: durationpb.New(res.Took)}
	for _, n := range res.Counts {
		out.Counts = append(out.Counts, &insightsv1.SourceCount{Source: n.Source, Kind: n.Kind, Records: n.Records})
		out.RecordsRead += n.Records
	}
	return stream.Send(out)
}

// SendHealthReport sends this week's report now.
func (h *Insights) SendHealthReport(ctx context.Context, req *connect.Request[insightsv1.SendHealthReportRequest]) (*connect.Response[insightsv1.SendHealthReportResponse], error) {
	c, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	week, n, err := h.reporter.Send(ctx, c, func(tx *sql.Tx) error {
		return h.audit.Record(ctx, tx, c, "insights.report_sent", "community", c)
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&insightsv1.SendHealthReportResponse{WeekStart: week.String(), Recipients: int32(n)}), nil
}
