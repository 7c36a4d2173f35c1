package pages

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
)

// goalFields are the goal form's inputs; the API names them goal.<field>
// (or name for an update), aliased back so errors land next to them.
var goalFields = []string{"name", "metric", "breakdown_value", "target", "deadline", "baseline_date", "description"}

// goalAliases maps the insights API's field names to the form's.
func goalAliases() map[string]string {
	out := map[string]string{}
	for _, f := range goalFields {
		out["goal."+f] = f
		out[f] = f
	}
	return out
}

type goalsPage struct {
	Goals    []*insightsv1.Goal
	Archived bool
}

type goalFormPage struct {
	Form     *Form
	Metrics  []*insightsv1.Metric
	Existing bool
	Name     string
	// Resource is set for a goal the Community resource keeps: it is
	// changed there, not here.
	Resource bool
}

// goals lists the community's goals with where each stands; organisers
// add, change and archive those made here.
func (s *Server) goals(w http.ResponseWriter, r *http.Request, c *call) {
	if s.api.Goals == nil {
		s.problem(w, r, c, http.StatusNotFound, "Goals need the insights service, which this console is not connected to.")
		return
	}
	d := goalsPage{Archived: r.URL.Query().Get("archived") == "1"}
	res, err := s.api.Goals.ListGoals(r.Context(), connect.NewRequest(&insightsv1.ListGoalsRequest{Community: s.opts.Community, IncludeArchived: d.Archived}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	d.Goals = res.Msg.GetGoals()
	s.render(w, r, c, http.StatusOK, "goals", "Goals", "dashboard", d)
}

func (s *Server) goalForm(r *http.Request, form *Form) goalFormPage {
	d := goalFormPage{Form: form}
	if res, err := s.api.Insights.ListMetrics(r.Context(), connect.NewRequest(&insightsv1.ListMetricsRequest{Community: s.opts.Community})); err == nil {
		d.Metrics = res.Msg.GetMetrics()
	}
	return d
}

func (s *Server) goalNew(w http.ResponseWriter, r *http.Request, c *call) {
	if s.api.Goals == nil {
		s.problem(w, r, c, http.StatusNotFound, "Goals need the insights service, which this console is not connected to.")
		return
	}
	s.render(w, r, c, http.StatusOK, "goalform", "New goal", "dashboard", s.goalForm(r, newForm(nil)))
}

func (s *Server) goalEdit(w http.ResponseWriter, r *http.Request, c *call) {
	if s.api.Goals == nil {
		s.problem(w, r, c, http.StatusNotFound, "Goals need the insights service, which this console is not connected to.")
		return
	}
	res, err := s.api.Goals.GetGoal(r.Context(), connect.NewRequest(&insightsv1.GetGoalRequest{Community: s.opts.Community, Name: r.PathValue("name")}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	g := res.Msg.GetGoal()
	sp := g.GetSpec()
	v := url.Values{"name": {sp.GetName()}, "metric": {sp.GetMetric()}, "breakdown_value": {sp.GetBreakdownValue()},
		"target": {strconv.FormatFloat(sp.GetTarget(), 'f', -1, 64)}, "deadline": {sp.GetDeadline()}, "baseline_date": {sp.GetBaselineDate()},
		"description": {sp.GetDescription()}}
	d := s.goalForm(r, newForm(v))
	d.Existing, d.Name, d.Resource = true, sp.GetName(), g.GetSource() == insightsv1.GoalSource_GOAL_SOURCE_RESOURCE
	s.render(w, r, c, http.StatusOK, "goalform", "Goal "+d.Name, "dashboard", d)
}

// goalFromForm reads the goal form; a target that is no number is set on
// the form.
func goalFromForm(form *Form) *insightsv1.GoalSpec {
	v := form.Values
	sp := &insightsv1.GoalSpec{Name: strings.TrimSpace(v.Get("name")), Metric: v.Get("metric"), BreakdownValue: strings.TrimSpace(v.Get("breakdown_value")),
		Deadline: strings.TrimSpace(v.Get("deadline")), BaselineDate: strings.TrimSpace(v.Get("baseline_date")), Description: strings.TrimSpace(v.Get("description"))}
	raw := strings.TrimSpace(strings.ReplaceAll(v.Get("target"), ",", "."))
	t, err := strconv.ParseFloat(raw, 64)
	if raw == "" || err != nil {
		form.Set("target", "must be a number, such as 500 or 0.6")
	}
	sp.Target = t
	return sp
}

// goalSave creates a goal, or changes one made here (every field of the
// form but its name).
func (s *Server) goalSave(w http.ResponseWriter, r *http.Request, c *call) {
	if s.api.Goals == nil {
		s.problem(w, r, c, http.StatusNotFound, "Goals need the insights service, which this console is not connected to.")
		return
	}
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	v.Del(csrfField)
	form := newForm(v)
	name := r.PathValue("name")
	sp := goalFromForm(form)
	if !form.Failed() {
		if name == "" {
			_, err = s.api.Goals.CreateGoal(r.Context(), connect.NewRequest(&insightsv1.CreateGoalRequest{Community: s.opts.Community, Goal: sp}))
			name = sp.GetName()
		} else {
			_, err = s.api.Goals.UpdateGoal(r.Context(), connect.NewRequest(&insightsv1.UpdateGoalRequest{Community: s.opts.Community, Name: name, Goal: sp,
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"metric", "breakdown_value", "target", "deadline", "baseline_date", "description"}}}))
		}
		if err == nil {
			seeOther(w, r, "/goals#goal-"+url.PathEscape(name), "goal-saved")
			return
		}
		form.apply(err, goalAliases())
	}
	d := s.goalForm(r, form)
	d.Existing, d.Name = r.PathValue("name") != "", r.PathValue("name")
	s.render(w, r, c, http.StatusBadRequest, "goalform", "Goal", "dashboard", d)
}

func (s *Server) goalArchive(w http.ResponseWriter, r *http.Request, c *call) {
	if s.api.Goals == nil {
		s.problem(w, r, c, http.StatusNotFound, "Goals need the insights service, which this console is not connected to.")
		return
	}
	if _, err := s.api.Goals.ArchiveGoal(r.Context(), connect.NewRequest(&insightsv1.ArchiveGoalRequest{Community: s.opts.Community, Name: r.PathValue("name")})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/goals", "goal-archived")
}
