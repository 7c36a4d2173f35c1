package external

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
)

// InsightsTarget is one community's insights service.
type InsightsTarget struct {
	// URL is the service's base URL, such as
	// http://insights.kinship-<name>.svc:8087.
	URL string
	// Community is the community's name.
	Community string
	// Audience is the audience the service wants on workload tokens
	// (spec.auth.workloadAudience).
	Audience string
}

// GoalSpec is a goal as a Community's spec.goals names it.
type GoalSpec struct {
	Name, Metric string
	Target       float64
	// Deadline and BaselineDate are days (2027-06-30); empty for none.
	Deadline, BaselineDate string
	BreakdownValue         string
	Description            string
	// Segment is nil for every member.
	Segment *GoalSegment
}

// GoalSegment narrows a goal to some members.
type GoalSegment struct {
	Levels, CountryCodes, Interests, Roles []string
}

// GoalState is where a goal stands, in the words of the Community's
// status: on_track, at_risk, off_track, achieved, missed, archived, or
// unknown.
type GoalState string

// GoalProgress is a goal and where it stands, as the insights service
// answers.
type GoalProgress struct {
	Name string
	// FromResource is true for the goals SyncGoals made.
	FromResource bool
	State        GoalState
	// Message says the state in a sentence with its numbers.
	Message                   string
	Current, Target, Progress float64
	// Forecast is set only with a deadline ahead.
	Forecast    float64
	HasForecast bool
	// AsOf is the day evaluated.
	AsOf string
}

// GoalsRefusedError is the insights service refusing a Community's goals
// as they are (an unknown metric, a deadline in the past): retrying
// without changing spec.goals gives the same answer. Message names the
// goal's field, such as goals[1].target.
type GoalsRefusedError struct{ Message string }

func (e *GoalsRefusedError) Error() string {
	return "the insights service refused the goals: " + e.Message
}

// Insights keeps a community's goals in its insights service.
type Insights interface {
	// SyncGoals makes goals the community's goals of the resource (the
	// resource's goals it no longer names are archived) and answers where
	// each stands, in the order given. A refusal is a *GoalsRefusedError.
	SyncGoals(ctx context.Context, target InsightsTarget, goals []GoalSpec) ([]GoalProgress, error)
	// ListGoals answers where each of the community's goals stands,
	// changing nothing.
	ListGoals(ctx context.Context, target InsightsTarget) ([]GoalProgress, error)
}

// TokenSource mints a bearer token for audience.
type TokenSource func(ctx context.Context, audience string) (string, error)

// InsightsClient calls the insights service's GoalsService over Connect
// with a workload token of the operator's own, each call bounded by a
// timeout.
type InsightsClient struct {
	tokens  TokenSource
	timeout time.Duration
	http    *http.Client
}

var _ Insights = (*InsightsClient)(nil)

// NewInsightsClient returns a client presenting tokens from tokens, each
// call taking at most timeout.
func NewInsightsClient(tokens TokenSource, timeout time.Duration) *InsightsClient {
	return &InsightsClient{tokens: tokens, timeout: timeout, http: &http.Client{Timeout: timeout}}
}

// SyncGoals calls GoalsService.SyncGoals.
func (c *InsightsClient) SyncGoals(ctx context.Context, target InsightsTarget, goals []GoalSpec) ([]GoalProgress, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := connect.NewRequest(&insightsv1.SyncGoalsRequest{Community: target.Community, Goals: protoGoals(goals)})
	if err := c.authorize(ctx, target, req.Header()); err != nil {
		return nil, err
	}
	res, err := c.client(target).SyncGoals(ctx, req)
	if err != nil {
		return nil, callError("sync goals", target, err)
	}
	return goalsFromProto(res.Msg.GetGoals()), nil
}

// ListGoals calls GoalsService.ListGoals.
func (c *InsightsClient) ListGoals(ctx context.Context, target InsightsTarget) ([]GoalProgress, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := connect.NewRequest(&insightsv1.ListGoalsRequest{Community: target.Community})
	if err := c.authorize(ctx, target, req.Header()); err != nil {
		return nil, err
	}
	res, err := c.client(target).ListGoals(ctx, req)
	if err != nil {
		return nil, callError("list goals", target, err)
	}
	return goalsFromProto(res.Msg.GetGoals()), nil
}

func (c *InsightsClient) client(target InsightsTarget) insightsv1connect.GoalsServiceClient {
	return insightsv1connect.NewGoalsServiceClient(c.http, target.URL)
}

func (c *InsightsClient) authorize(ctx context.Context, target InsightsTarget, h http.Header) error {
	token, err := c.tokens(ctx, target.Audience)
	if err != nil {
		return fmt.Errorf("a token for the insights service: %w", err)
	}
	h.Set("Authorization", "Bearer "+token)
	return nil
}

// callError turns a Connect error into a *GoalsRefusedError when the
// goals themselves are the problem, and into a plain error otherwise.
func callError(what string, target InsightsTarget, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) && (ce.Code() == connect.CodeInvalidArgument || ce.Code() == connect.CodeFailedPrecondition) {
		return &GoalsRefusedError{Message: ce.Message()}
	}
	return fmt.Errorf("%s at %s: %w", what, target.URL, err)
}

func protoGoals(goals []GoalSpec) []*insightsv1.GoalSpec {
	out := make([]*insightsv1.GoalSpec, 0, len(goals))
	for _, g := range goals {
		pg := &insightsv1.GoalSpec{Name: g.Name, Metric: g.Metric, Target: g.Target, Deadline: g.Deadline,
			BaselineDate: g.BaselineDate, BreakdownValue: g.BreakdownValue, Description: g.Description}
		if s := g.Segment; s != nil {
			pg.Segment = &insightsv1.Segment{Levels: s.Levels, CountryCodes: s.CountryCodes, Interests: s.Interests, Roles: s.Roles}
		}
		out = append(out, pg)
	}
	return out
}

func goalsFromProto(goals []*insightsv1.Goal) []GoalProgress {
	out := make([]GoalProgress, 0, len(goals))
	for _, g := range goals {
		p := g.GetProgress()
		state := goalStates[p.GetStatus()]
		if g.GetArchived() {
			state = "archived"
		}
		if state == "" {
			state = "unknown"
		}
		out = append(out, GoalProgress{
			Name: g.GetSpec().GetName(), FromResource: g.GetSource() == insightsv1.GoalSource_GOAL_SOURCE_RESOURCE,
			State: state, Message: p.GetMessage(), Current: p.GetCurrent(), Target: p.GetTarget(), Progress: p.GetProgress(),
			Forecast: p.GetForecast(), HasForecast: p.GetHasForecast(), AsOf: p.GetAsOf(),
		})
	}
	return out
}

var goalStates = map[insightsv1.GoalStatus]GoalState{
	insightsv1.GoalStatus_GOAL_STATUS_ON_TRACK:  "on_track",
	insightsv1.GoalStatus_GOAL_STATUS_AT_RISK:   "at_risk",
	insightsv1.GoalStatus_GOAL_STATUS_OFF_TRACK: "off_track",
	insightsv1.GoalStatus_GOAL_STATUS_ACHIEVED:  "achieved",
	insightsv1.GoalStatus_GOAL_STATUS_MISSED:    "missed",
	insightsv1.GoalStatus_GOAL_STATUS_ARCHIVED:  "archived",
}
