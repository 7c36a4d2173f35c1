package api

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/templates"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// ReportTemplate is the communications template the health report is
// sent with; it is created with DefaultReport when the community has none,
// and organisers may edit it.
const ReportTemplate = "health-report"

// DefaultReport is the report template's default text. It sees
// {{.Vars.week}}, {{.Vars.goals}}, {{.Vars.metrics}} and
// {{.Vars.community}}.
var DefaultReport = struct{ Subject, Text string }{
	Subject: "{{.Vars.community}}: community health, week of {{.Vars.week}}",
	Text: `Hello {{.Member.DisplayName}},

here is how {{.Vars.community}} did in the week of {{.Vars.week}}.

Goals
{{.Vars.goals}}

The week in numbers
{{.Vars.metrics}}

The console shows every series, cohort and funnel behind these numbers.
`,
}

// Reporter sends the weekly health report to a community's organisers
// through the communications service.
type Reporter struct {
	engine    *Engine
	templates communicationsv1connect.TemplatesServiceClient
	messages  communicationsv1connect.CommunicationsServiceClient
	schedule  domain.Schedule
	logger    *slog.Logger
	now       func() time.Time
}

// NewReporter sends reports through the communications clients (nil:
// reports are off).
func NewReporter(e *Engine, templates communicationsv1connect.TemplatesServiceClient, messages communicationsv1connect.CommunicationsServiceClient,
	schedule domain.Schedule, logger *slog.Logger, now func() time.Time) *Reporter {
	if now == nil {
		now = time.Now
	}
	return &Reporter{engine: e, templates: templates, messages: messages, schedule: schedule, logger: logger, now: now}
}

var errNoReports = errors.New("reports need the communications service: set its URL")

// SendDue sends each community's report whose weekly slot has come and
// which has not gone out this week. Failures are logged and retried at
// the next call.
func (r *Reporter) SendDue(ctx context.Context) {
	if r.messages == nil {
		return
	}
	for _, c := range r.engine.store.Communities() {
		loc, _ := r.engine.store.Zone(c)
		due, week := r.schedule.Due(r.now(), loc)
		if !due {
			continue
		}
		if _, sent, err := r.engine.store.ReportSent(ctx, c, week); err != nil || sent {
			if err != nil {
				r.logger.WarnContext(ctx, "health report check failed", "community", c, "error", err)
			}
			continue
		}
		if _, n, err := r.Send(ctx, c, nil); err != nil && ctx.Err() == nil {
			r.logger.WarnContext(ctx, "health report failed", "community", c, "error", err)
		} else if err == nil {
			r.logger.InfoContext(ctx, "health report sent", "community", c, "week", week.String(), "recipients", n)
		}
	}
}

// Send sends this week's report of community — on the week before — to
// its organisers (each once: the messages' idempotency keys name the
// week) and records it with audit (nil for the weekly run). It returns the
// week reported on and how many organisers the report went to.
func (r *Reporter) Send(ctx context.Context, community string, audit store.Audit) (domain.Day, int, error) {
	if r.messages == nil {
		return 0, 0, errNoReports
	}
	today, loc, err := r.engine.today(community)
	if err != nil {
		return 0, 0, err
	}
	week := domain.WeekStart(today)
	organisers, err := r.engine.store.Roles(ctx, community, domain.RoleOrganiser)
	if err != nil {
		return week, 0, err
	}
	var to []string
	for _, o := range organisers {
		if o.Holds() {
			to = append(to, o.MemberID)
		}
	}
	vars, err := r.Variables(ctx, community, week, loc)
	if err != nil {
		return week, 0, err
	}
	if err := r.ensureTemplate(ctx, community); err != nil {
		return week, 0, err
	}
	for _, id := range to {
		_, err := r.messages.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{Community: community, MemberId: id,
			IdempotencyKey: fmt.Sprintf("insights/health-report/%s/%s/%s", community, week, id), Template: ReportTemplate, Variables: vars}))
		if err != nil {
			return week, 0, fmt.Errorf("send the health report to %s: %w", id, err)
		}
	}
	if audit == nil {
		audit = func(*sql.Tx) error { return nil }
	}
	if err := r.engine.store.RecordReport(ctx, community, week, len(to), r.now(), audit); err != nil {
		return week, 0, err
	}
	return week - 7, len(to), nil
}

// ensureTemplate creates the report template unless the community has
// one.
func (r *Reporter) ensureTemplate(ctx context.Context, community string) error {
	_, err := templates.Ensure(ctx, r.templates, community, templates.Default{Name: ReportTemplate, Subject: DefaultReport.Subject, TextBody: DefaultReport.Text})
	return err
}

// reportMetrics are the numbers the report gives for the week before.
var reportMetrics = []string{"members.total", "members.newcomers", "members.leavers", "members.active", "events.held",
	"events.attendance_rate", "communications.sent", "partners.contributions"}

// Variables are the report's template variables for the week starting
// week: the goals first, then the last week's numbers beside the week
// before's.
func (r *Reporter) Variables(ctx context.Context, community string, week domain.Day, loc *time.Location) (map[string]string, error) {
	goals, err := r.engine.store.Goals(ctx, community, false)
	if err != nil {
		return nil, err
	}
	var g strings.Builder
	if len(goals) == 0 {
		g.WriteString("- no goals yet: set them in the console or the Community resource\n")
	}
	for _, goal := range sortedGoals(goals) {
		p, err := r.engine.Progress(ctx, goal)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&g, "- %s (%s): %s\n", goal.Name, strings.ReplaceAll(string(p.Status), "_", " "), p.Message)
	}
	var m strings.Builder
	last, before := week-7, week-14
	for _, name := range reportMetrics {
		s, err := r.engine.Series(ctx, SeriesQuery{Community: community, Metric: name, From: before.String(), To: (week - 1).String(), Granularity: domain.ByWeek})
		if err != nil {
			return nil, err
		}
		pts := s.Lines[0].Points
		if len(pts) < 2 {
			continue
		}
		fmt.Fprintf(&m, "- %s: %s (the week before: %s)\n", s.Metric.Title, domain.FormatValue(s.Metric, pts[1].Value), domain.FormatValue(s.Metric, pts[0].Value))
	}
	return map[string]string{"week": last.String(), "goals": strings.TrimRight(g.String(), "\n"), "metrics": strings.TrimRight(m.String(), "\n"),
		"community": community}, nil
}
