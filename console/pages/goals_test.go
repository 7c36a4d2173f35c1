package pages

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kinshiphq/kinship/console/apis"
	"github.com/kinshiphq/kinship/console/session"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
)

// fakeGoals keeps goals as the insights API does, enough for the pages.
type fakeGoals struct {
	insightsv1connect.UnimplementedInsightsServiceHandler
	insightsv1connect.UnimplementedGoalsServiceHandler
	mu      sync.Mutex
	goals   map[string]*insightsv1.Goal
	updates []*insightsv1.UpdateGoalRequest
}

func (f *fakeGoals) ListMetrics(context.Context, *connect.Request[insightsv1.ListMetricsRequest]) (*connect.Response[insightsv1.ListMetricsResponse], error) {
	return connect.NewResponse(&insightsv1.ListMetricsResponse{Metrics: []*insightsv1.Metric{{Name: "members.total", Title: "Members", Unit: "members"},
		{Name: "members.active", Title: "Active members", Unit: "members"}}}), nil
}

func (f *fakeGoals) ListGoals(_ context.Context, req *connect.Request[insightsv1.ListGoalsRequest]) (*connect.Response[insightsv1.ListGoalsResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := &insightsv1.ListGoalsResponse{}
	for _, g := range f.goals {
		if !g.GetArchived() || req.Msg.GetIncludeArchived() {
			res.Goals = append(res.Goals, g)
		}
	}
	slices.SortFunc(res.Goals, func(a, b *insightsv1.Goal) int { return strings.Compare(a.GetSpec().GetName(), b.GetSpec().GetName()) })
	return connect.NewResponse(res), nil
}

func (f *fakeGoals) GetGoal(_ context.Context, req *connect.Request[insightsv1.GetGoalRequest]) (*connect.Response[insightsv1.GetGoalResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.goals[req.Msg.GetName()]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	return connect.NewResponse(&insightsv1.GetGoalResponse{Goal: g}), nil
}

func (f *fakeGoals) CreateGoal(_ context.Context, req *connect.Request[insightsv1.CreateGoalRequest]) (*connect.Response[insightsv1.CreateGoalResponse], error) {
	sp := req.Msg.GetGoal()
	if sp.GetTarget() <= 0 {
		return nil, rpc.InvalidArgument(validate.Field("goal.target", "must be above 0"))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := &insightsv1.Goal{Community: "demo", Spec: sp, Source: insightsv1.GoalSource_GOAL_SOURCE_API, Unit: "members",
		Progress: &insightsv1.GoalProgress{Status: insightsv1.GoalStatus_GOAL_STATUS_ON_TRACK, Message: "on track"}}
	f.goals[sp.GetName()] = g
	return connect.NewResponse(&insightsv1.CreateGoalResponse{Goal: g}), nil
}

func (f *fakeGoals) UpdateGoal(_ context.Context, req *connect.Request[insightsv1.UpdateGoalRequest]) (*connect.Response[insightsv1.UpdateGoalResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, req.Msg)
	g, ok := f.goals[req.Msg.GetName()]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	g.Spec.Target = req.Msg.GetGoal().GetTarget()
	return connect.NewResponse(&insightsv1.UpdateGoalResponse{Goal: g}), nil
}

func (f *fakeGoals) ArchiveGoal(_ context.Context, req *connect.Request[insightsv1.ArchiveGoalRequest]) (*connect.Response[insightsv1.ArchiveGoalResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.goals[req.Msg.GetName()]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	g.Archived = true
	return connect.NewResponse(&insightsv1.ArchiveGoalResponse{Goal: g}), nil
}

func goalsRig(t *testing.T) (*testRig, *fakeGoals) {
	t.Helper()
	fg := &fakeGoals{goals: map[string]*insightsv1.Goal{
		"from-resource": {Spec: &insightsv1.GoalSpec{Name: "from-resource", Metric: "members.total", Target: 1000}, Source: insightsv1.GoalSource_GOAL_SOURCE_RESOURCE, Unit: "members"},
	}}
	mux := http.NewServeMux()
	mux.Handle(membersv1connect.NewMembersServiceHandler(&fakeMembers{}))
	mux.Handle(insightsv1connect.NewInsightsServiceHandler(fg))
	mux.Handle(insightsv1connect.NewGoalsServiceHandler(fg))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	store, _ := session.New(session.Options{})
	s, err := New(Options{Community: "demo", PublicURL: "https://console.example", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, store, nil,
		apis.New(apis.URLs{Members: api.URL, Events: api.URL, Communications: api.URL, Partners: api.URL, Journeys: api.URL, Insights: api.URL}, noop.NewTracerProvider()))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &testRig{srv: srv, store: store}, fg
}

// Organisers set, change and archive the community's goals in the
// console; a goal the Community resource keeps is shown, not changed;
// staff see the goals and change nothing.
func TestOrganisersSetAndChangeGoals(t *testing.T) {
	r, fg := goalsRig(t)
	cookie, ss := r.signIn(t, "organiser")
	form := url.Values{csrfField: {ss.CSRF}, "name": {"500-members"}, "metric": {"members.total"}, "target": {"0"}, "deadline": {"2027-06-30"},
		"description": {"Enough <people> to run two repair cafés"}}
	res, page := r.do(t, http.MethodPost, "/goals", cookie, form, nil)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `<span class="field-error" id="e-target">must be above 0</span>`) ||
		!strings.Contains(page, "Enough &lt;people&gt; to run two repair cafés</textarea>") {
		t.Fatalf("a refused goal = %d; want the API's error next to the target and the input kept", res.StatusCode)
	}
	form.Set("target", "abc")
	if _, page = r.do(t, http.MethodPost, "/goals", cookie, form, nil); !strings.Contains(page, `id="e-target">must be a number`) {
		t.Errorf("a target that is no number is not named")
	}
	form.Set("target", "500")
	if res, _ = r.do(t, http.MethodPost, "/goals", cookie, form, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create = %d", res.StatusCode)
	}
	_, page = r.do(t, http.MethodGet, "/goals", cookie, nil, nil)
	for _, want := range []string{`<a href="/goals/500-members">500-members</a>`, "Enough &lt;people&gt; to run two repair cafés", "2027-06-30",
		"<td>from-resource", "the Community resource"} {
		if !strings.Contains(page, want) {
			t.Errorf("the goals page lacks %s", want)
		}
	}
	if strings.Contains(page, `href="/goals/from-resource"`) {
		t.Error("a goal the resource keeps is offered for editing")
	}
	_, page = r.do(t, http.MethodGet, "/goals/500-members", cookie, nil, nil)
	if !strings.Contains(page, `value="500"`) || !strings.Contains(page, `<option value="members.total" selected>`) {
		t.Errorf("the edit form does not hold the goal")
	}
	edit := url.Values{csrfField: {ss.CSRF}, "metric": {"members.total"}, "target": {"650"}, "deadline": {"2027-06-30"}}
	if res, _ = r.do(t, http.MethodPost, "/goals/500-members", cookie, edit, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("update = %d", res.StatusCode)
	}
	if u := fg.updates[len(fg.updates)-1]; u.GetName() != "500-members" || u.GetGoal().GetTarget() != 650 || !slices.Contains(u.GetUpdateMask().GetPaths(), "target") {
		t.Errorf("update asked %v", u)
	}
	_, page = r.do(t, http.MethodGet, "/goals/from-resource", cookie, nil, nil)
	if !strings.Contains(page, "kept by the Community resource") || strings.Contains(page, "Save goal") {
		t.Errorf("the resource's goal is editable here")
	}
	if res, _ = r.do(t, http.MethodPost, "/goals/500-members/archive", cookie, url.Values{csrfField: {ss.CSRF}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("archive = %d", res.StatusCode)
	}
	if _, page = r.do(t, http.MethodGet, "/goals", cookie, nil, nil); strings.Contains(page, "500-members") {
		t.Error("an archived goal is still listed")
	}
	if _, page = r.do(t, http.MethodGet, "/goals?archived=1", cookie, nil, nil); !strings.Contains(page, `<span class="badge">archived</span>`) {
		t.Error("archived goals cannot be shown")
	}

	staff, staffSS := r.signIn(t, "staff")
	if res, _ := r.do(t, http.MethodGet, "/goals", staff, nil, nil); res.StatusCode != http.StatusOK {
		t.Errorf("staff reading goals = %d", res.StatusCode)
	}
	if res, _ := r.do(t, http.MethodPost, "/goals", staff, url.Values{csrfField: {staffSS.CSRF}, "name": {"x"}, "metric": {"members.total"}, "target": {"1"}}, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("staff creating a goal = %d, want 403", res.StatusCode)
	}
}
