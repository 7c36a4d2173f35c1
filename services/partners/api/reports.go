package api

import (
	"context"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/csvout"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/events"
	"github.com/kinshiphq/kinship/services/partners/store"
)

// Reports implements ReportsService.
type Reports struct{ base }

var _ partnersv1connect.ReportsServiceHandler = (*Reports)(nil)

// NewReports returns the reports API.
func NewReports(d Deps) *Reports { return &Reports{newBase(d)} }

// StakeholderGrid groups the partners by quadrant.
func (h *Reports) StakeholderGrid(ctx context.Context, req *connect.Request[partnersv1.StakeholderGridRequest]) (*connect.Response[partnersv1.StakeholderGridResponse], error) {
	community, partners, err := h.grid(ctx, req.Msg.GetCommunity(), req.Msg.GetStatuses())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	byQuadrant := map[domain.Quadrant][]*partnersv1.Partner{}
	for _, p := range partners {
		q := p.Stakeholder.Quadrant()
		byQuadrant[q] = append(byQuadrant[q], events.PartnerToProto(p))
	}
	res := &partnersv1.StakeholderGridResponse{NotAssessed: byQuadrant[domain.QuadrantNone]}
	for _, q := range domain.Quadrants() {
		res.Quadrants = append(res.Quadrants, &partnersv1.QuadrantPartners{Quadrant: events.QuadrantToProto(q), Partners: byQuadrant[q]})
	}
	h.logger.DebugContext(ctx, "stakeholder grid read", "community", community, "partners", len(partners))
	return connect.NewResponse(res), nil
}

// grid reads the partners of a stakeholder grid, by name.
func (h *Reports) grid(ctx context.Context, rawCommunity string, statuses []partnersv1.PartnerStatus) (string, []domain.Partner, error) {
	var errs validate.Errors
	community, err := communityOf(rawCommunity)
	errs = append(errs, validate.FieldErrors(err)...)
	f, err := partnerFilter(statuses, nil)
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return "", nil, err
	}
	partners, err := h.store.AllPartners(ctx, community, f)
	return community, partners, err
}

// ContributionTotals sums contributions by partner, period or goal.
func (h *Reports) ContributionTotals(ctx context.Context, req *connect.Request[partnersv1.ContributionTotalsRequest]) (*connect.Response[partnersv1.ContributionTotalsResponse], error) {
	m := req.Msg
	groups, overall, err := h.totals(ctx, m.GetCommunity(), m.GetGroupBy(), m.GetPeriod(), m.GetFromDate(), m.GetToDate(), m.GetPartnerId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.ContributionTotalsResponse{Overall: groupToProto(overall)}
	for _, g := range groups {
		res.Groups = append(res.Groups, groupToProto(g))
	}
	return connect.NewResponse(res), nil
}

var (
	groupBys = map[partnersv1.GroupBy]domain.GroupBy{partnersv1.GroupBy_GROUP_BY_PARTNER: domain.ByPartner,
		partnersv1.GroupBy_GROUP_BY_PERIOD: domain.ByPeriod, partnersv1.GroupBy_GROUP_BY_GOAL: domain.ByGoal}
	periods = map[partnersv1.Period]domain.Period{partnersv1.Period_PERIOD_MONTH: domain.PeriodMonth,
		partnersv1.Period_PERIOD_QUARTER: domain.PeriodQuarter, partnersv1.Period_PERIOD_YEAR: domain.PeriodYear}
)

func (h *Reports) totals(ctx context.Context, rawCommunity string, groupBy partnersv1.GroupBy, period partnersv1.Period, from, to, partnerID string) ([]domain.ContributionGroup, domain.ContributionGroup, error) {
	var errs validate.Errors
	community, err := communityOf(rawCommunity)
	errs = append(errs, validate.FieldErrors(err)...)
	by, ok := groupBys[groupBy]
	if !ok {
		errs = append(errs, validate.Field("group_by", "must be partner, period or goal"))
	}
	p, ok := periods[period]
	if by == domain.ByPeriod && !ok {
		errs = append(errs, validate.Field("period", "must be month, quarter or year when grouping by period"))
	}
	f, err := contributionFilter(partnerID, from, to, "")
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return nil, domain.ContributionGroup{}, err
	}
	sums, err := h.store.ContributionSums(ctx, community, f)
	if err != nil {
		return nil, domain.ContributionGroup{}, err
	}
	names, err := h.store.PartnerNames(ctx, community)
	if err != nil {
		return nil, domain.ContributionGroup{}, err
	}
	return domain.GroupContributions(sums, by, p, names)
}

// Bounds of within_days.
const (
	defaultWithinDays = 30
	maxWithinDays     = 366
)

// ExpiringAgreements lists agreements in force ending soon.
func (h *Reports) ExpiringAgreements(ctx context.Context, req *connect.Request[partnersv1.ExpiringAgreementsRequest]) (*connect.Response[partnersv1.ExpiringAgreementsResponse], error) {
	today, list, err := h.expiring(ctx, req.Msg.GetCommunity(), req.Msg.GetWithinDays())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.ExpiringAgreementsResponse{}
	for _, e := range list {
		res.Agreements = append(res.Agreements, &partnersv1.ExpiringAgreement{Agreement: events.AgreementToProto(e.Agreement),
			PartnerName: e.PartnerName, DaysLeft: int32(today.DaysUntil(e.Agreement.End))})
	}
	return connect.NewResponse(res), nil
}

func (h *Reports) expiring(ctx context.Context, rawCommunity string, withinDays int32) (domain.Date, []store.ExpiringAgreement, error) {
	var errs validate.Errors
	community, err := communityOf(rawCommunity)
	errs = append(errs, validate.FieldErrors(err)...)
	days := int(withinDays)
	switch {
	case days == 0:
		days = defaultWithinDays
	case days < 0 || days > maxWithinDays:
		errs = append(errs, validate.Field("within_days", "must be between 0 and %d", maxWithinDays))
	}
	if err := errs.Err(); err != nil {
		return domain.Date{}, nil, err
	}
	today := h.today()
	list, err := h.store.Expiring(ctx, community, today, today.AddDays(days))
	return today, list, err
}

// maxExportRows bounds the rows of an exported due-for-review report.
const maxExportRows = 100_000

// ExportReport streams a report as CSV. The interceptor cannot read a
// stream's request, so the community is confined here.
func (h *Reports) ExportReport(ctx context.Context, req *connect.Request[partnersv1.ExportReportRequest], stream *connect.ServerStream[partnersv1.ExportReportResponse]) error {
	m := req.Msg
	community, err := auth.Confine(ctx, m.GetCommunity())
	if err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	if community, err = communityOf(community); err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	// csvout neutralises every cell a spreadsheet could run as a formula.
	w := csvout.NewWriter(func(chunk []byte) error { return stream.Send(&partnersv1.ExportReportResponse{Chunk: chunk}) })
	var write func() error
	switch m.GetReport() {
	case partnersv1.ReportKind_REPORT_KIND_STAKEHOLDER_GRID:
		write = func() error { return h.exportGrid(ctx, w, community, m.GetStatuses()) }
	case partnersv1.ReportKind_REPORT_KIND_CONTRIBUTIONS:
		write = func() error {
			return h.exportContributions(ctx, w, community, m.GetPartnerId(), m.GetFromDate(), m.GetToDate())
		}
	case partnersv1.ReportKind_REPORT_KIND_CONTRIBUTION_TOTALS:
		write = func() error { return h.exportTotals(ctx, w, community, m) }
	case partnersv1.ReportKind_REPORT_KIND_DUE_FOR_REVIEW:
		write = func() error { return h.exportDue(ctx, w, community, m.GetOnOrBefore()) }
	case partnersv1.ReportKind_REPORT_KIND_EXPIRING_AGREEMENTS:
		write = func() error { return h.exportExpiring(ctx, w, community, m.GetWithinDays()) }
	default:
		return h.toConnect(ctx, req.Spec(), validate.Field("report", "must name a report: stakeholder grid, contributions, contribution totals, due for review or expiring agreements"))
	}
	if err := write(); err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	if err := w.Flush(); err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	// An export changes no data: it is recorded on its own.
	report := strings.ToLower(strings.TrimPrefix(m.GetReport().String(), "REPORT_KIND_"))
	if err := h.audit.RecordNow(ctx, community, domain.ActionReportExported, domain.TargetReport, report); err != nil {
		return h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "report exported", "community", community, "report", m.GetReport().String(), "rows", w.Rows())
	return nil
}

func (h *Reports) exportGrid(ctx context.Context, w *csvout.Writer, community string, statuses []partnersv1.PartnerStatus) error {
	_, partners, err := h.grid(ctx, community, statuses)
	if err != nil {
		return err
	}
	if err := w.Header("partner_id", "name", "kind", "status", "influence", "interest", "quadrant", "owner_id", "next_review_date"); err != nil {
		return err
	}
	for _, p := range partners {
		s := p.Stakeholder
		if err := w.Row(p.ID, p.Name, string(p.Kind), string(p.Status), score(s.Influence), score(s.Interest), string(s.Quadrant()),
			s.OwnerID, s.NextReview.String()); err != nil {
			return err
		}
	}
	return nil
}

func (h *Reports) exportContributions(ctx context.Context, w *csvout.Writer, community, partnerID, from, to string) error {
	f, err := contributionFilter(partnerID, from, to, "")
	if err != nil {
		return err
	}
	names, err := h.store.PartnerNames(ctx, community)
	if err != nil {
		return err
	}
	if err := w.Header("contribution_id", "partner_id", "partner_name", "date", "kind", "description", "currency", "amount", "amount_minor",
		"volunteer_minutes", "event_id", "goal", "member_id"); err != nil {
		return err
	}
	for after := ""; ; {
		page, err := h.store.ListContributions(ctx, community, f, after, 500)
		if err != nil {
			return err
		}
		for _, c := range page {
			amount, minor := "", ""
			if !c.Value.IsZero() {
				amount, minor = domain.FormatMinor(c.Value.Minor, c.Value.Currency), strconv.FormatInt(c.Value.Minor, 10)
			}
			if err := w.Row(c.ID, c.PartnerID, names[c.PartnerID], c.Date.String(), string(c.Kind), c.Description, c.Value.Currency,
				amount, minor, strconv.FormatInt(c.VolunteerMinutes, 10), c.EventID, c.Goal, c.MemberID); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (h *Reports) exportTotals(ctx context.Context, w *csvout.Writer, community string, m *partnersv1.ExportReportRequest) error {
	groups, overall, err := h.totals(ctx, community, m.GetGroupBy(), m.GetPeriod(), m.GetFromDate(), m.GetToDate(), m.GetPartnerId())
	if err != nil {
		return err
	}
	// One row per group and currency; a group without money gets one row
	// without a currency. Counts and minutes are the group's.
	if err := w.Header("key", "label", "currency", "money", "in_kind", "total", "group_contributions", "group_volunteer_minutes"); err != nil {
		return err
	}
	for _, g := range append(groups, overall) {
		count, minutes := strconv.FormatInt(g.Count, 10), strconv.FormatInt(g.VolunteerMinutes, 10)
		totals := g.Total.Sorted()
		if len(totals) == 0 {
			if err := w.Row(g.Key, g.Label, "", "", "", "", count, minutes); err != nil {
				return err
			}
			continue
		}
		for _, t := range totals {
			c := t.Currency
			if err := w.Row(g.Key, g.Label, c, domain.FormatMinor(g.Money[c], c), domain.FormatMinor(g.InKind[c], c),
				domain.FormatMinor(t.Minor, c), count, minutes); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *Reports) exportDue(ctx context.Context, w *csvout.Writer, rawCommunity, onOrBefore string) error {
	community, day, err := h.dueArgs(rawCommunity, onOrBefore)
	if err != nil {
		return err
	}
	partners, err := h.store.DueForReview(ctx, community, day, maxExportRows)
	if err != nil {
		return err
	}
	if err := w.Header("partner_id", "name", "status", "quadrant", "owner_id", "next_review_date", "days_overdue"); err != nil {
		return err
	}
	today := h.today()
	for _, p := range partners {
		s := p.Stakeholder
		if err := w.Row(p.ID, p.Name, string(p.Status), string(s.Quadrant()), s.OwnerID, s.NextReview.String(),
			strconv.Itoa(max(0, s.NextReview.DaysUntil(today)))); err != nil {
			return err
		}
	}
	return nil
}

func (h *Reports) exportExpiring(ctx context.Context, w *csvout.Writer, community string, withinDays int32) error {
	today, list, err := h.expiring(ctx, community, withinDays)
	if err != nil {
		return err
	}
	if err := w.Header("agreement_id", "partner_id", "partner_name", "kind", "title", "status", "start_date", "end_date", "days_left",
		"currency", "amount", "amount_minor"); err != nil {
		return err
	}
	for _, e := range list {
		a := e.Agreement
		amount, minor := "", ""
		if !a.Value.IsZero() {
			amount, minor = domain.FormatMinor(a.Value.Minor, a.Value.Currency), strconv.FormatInt(a.Value.Minor, 10)
		}
		if err := w.Row(a.ID, a.PartnerID, e.PartnerName, string(a.Kind), a.Title, string(a.Status), a.Start.String(), a.End.String(),
			strconv.Itoa(today.DaysUntil(a.End)), a.Value.Currency, amount, minor); err != nil {
			return err
		}
	}
	return nil
}

func score(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
