package pages

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/console/apis"
	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

var journeyStatuses = []string{"running", "completed", "cancelled", "failed", "terminated", "timed_out"}

func journeyStatus(name string) journeysv1.JourneyStatus {
	return journeysv1.JourneyStatus(journeysv1.JourneyStatus_value["JOURNEY_STATUS_"+strings.ToUpper(name)])
}

func journeyKind(name string) journeysv1.JourneyKind {
	if name == "ambassador" {
		return journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR
	}
	return journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING
}

type journeyRow struct {
	J    *journeysv1.JourneySummary
	Name string
}

type journeysPage struct {
	Form     *Form
	Rows     []journeyRow
	Kind     string
	Statuses []string
	Pager    pager
}

func (s *Server) journeysList(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	q := r.URL.Query()
	d := journeysPage{Form: newForm(q), Kind: q.Get("kind"), Statuses: journeyStatuses}
	if d.Kind != "ambassador" {
		d.Kind = "onboarding"
	}
	req := &journeysv1.ListJourneysRequest{Community: s.opts.Community, Kind: journeyKind(d.Kind), PageSize: pageSize, PageToken: q.Get("page")}
	for _, st := range q["status"] {
		if v := journeyStatus(st); v != journeysv1.JourneyStatus_JOURNEY_STATUS_UNSPECIFIED {
			req.Statuses = append(req.Statuses, v)
		}
	}
	res, err := s.api.Journeys.ListJourneys(ctx, connect.NewRequest(req))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	ids := make([]string, 0, len(res.Msg.GetJourneys()))
	for _, j := range res.Msg.GetJourneys() {
		ids = append(ids, j.GetMemberId())
	}
	names := s.names(ctx, ids)
	for _, j := range res.Msg.GetJourneys() {
		d.Rows = append(d.Rows, journeyRow{J: j, Name: names[j.GetMemberId()]})
	}
	d.Pager = pagerFor("/journeys", q, res.Msg.GetNextPageToken())
	s.render(w, r, c, http.StatusOK, "journeys", "Journeys", "journeys", d)
}

type startPage struct {
	Form     *Form
	Segments []*membersv1.Segment
	Segment  *membersv1.Segment
	Count    int64
	Preview  []*membersv1.SegmentMember
}

// previewSize is how many of a segment's members the start page names.
const previewSize = 20

// journeysStartForm starts onboarding for a saved segment, showing first
// how many members it holds and who the first of them are.
func (s *Server) journeysStartForm(w http.ResponseWriter, r *http.Request, c *call) {
	d, err := s.startPage(r, newForm(r.URL.Query()), r.URL.Query().Get("segment"))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "journeystart", "Start onboarding", "journeys", d)
}

func (s *Server) startPage(r *http.Request, form *Form, segment string) (startPage, error) {
	ctx := r.Context()
	d := startPage{Form: form}
	res, err := s.api.Segments.ListSegments(ctx, connect.NewRequest(&membersv1.ListSegmentsRequest{Community: s.opts.Community}))
	if err != nil {
		return d, err
	}
	d.Segments = res.Msg.GetSegments()
	for _, sg := range d.Segments {
		if sg.GetId() == segment {
			d.Segment = sg
		}
	}
	if d.Segment != nil {
		if cr, err := s.api.Segments.CountSegment(ctx, connect.NewRequest(&membersv1.CountSegmentRequest{Community: s.opts.Community, SegmentId: segment})); err == nil {
			d.Count = cr.Msg.GetCount()
		}
		if lr, err := s.api.Segments.ListSegmentMembers(ctx, connect.NewRequest(&membersv1.ListSegmentMembersRequest{Community: s.opts.Community,
			SegmentId: segment, PageSize: previewSize})); err == nil {
			d.Preview = lr.Msg.GetMembers()
		}
	}
	return d, nil
}

type startResult struct {
	Segment  string
	Response *journeysv1.StartOnboardingResponse
	Failures []*journeysv1.StartFailure
}

// journeysStart starts the segment's journeys in the background and sends
// the browser to the progress page.
func (s *Server) journeysStart(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	segment := v.Get("segment")
	if segment == "" {
		form := newForm(v)
		form.Set("segment", "choose a segment")
		d, lerr := s.startPage(r, form, "")
		if lerr != nil {
			s.apiFailed(w, r, c, lerr)
			return
		}
		s.render(w, r, c, http.StatusBadRequest, "journeystart", "Start onboarding", "journeys", d)
		return
	}
	j := s.jobs.start(c.ss.Key)
	ctx, cancel := context.WithTimeout(apis.WithToken(context.WithoutCancel(r.Context()), c.ss.AccessToken), 30*time.Minute)
	go func() {
		defer cancel()
		res, err := s.streamStart(ctx, segment, j)
		if err != nil {
			msg := "Starting the journeys failed."
			var cerr *connect.Error
			if errors.As(err, &cerr) {
				msg = apiMessage(cerr)
			}
			j.finish(res, msg)
			return
		}
		j.finish(res, "")
	}()
	seeOther(w, r, "/journeys/start/"+j.id, "")
}

func (s *Server) streamStart(ctx context.Context, segment string, j *job) (startResult, error) {
	out := startResult{Segment: segment}
	stream, err := s.api.Journeys.StartOnboarding(ctx, connect.NewRequest(&journeysv1.StartOnboardingRequest{Community: s.opts.Community, SegmentId: segment}))
	if err != nil {
		return out, err
	}
	defer stream.Close()
	for stream.Receive() {
		m := stream.Msg()
		out.Response = m
		out.Failures = append(out.Failures, m.GetFailures()...)
		j.progress(m.GetStarted()+m.GetAlreadyStarted()+m.GetFailed(), m.GetTotal())
	}
	if err := stream.Err(); err != nil && !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}

func (s *Server) journeysStartStatus(w http.ResponseWriter, r *http.Request, c *call) {
	j, ok := s.jobs.get(r.PathValue("job"), c.ss.Key)
	if !ok {
		s.problem(w, r, c, http.StatusNotFound, "This run is not known here (runs are kept for an hour).")
		return
	}
	snap := j.snapshot()
	if r.Header.Get("HX-Request") != "" {
		s.fragment(w, r, c, "journeystartstatus", "progress", snap)
		return
	}
	s.render(w, r, c, http.StatusOK, "journeystartstatus", "Start onboarding", "journeys", snap)
}

type journeyPage struct {
	Journey *journeysv1.Journey
	Member  *membersv1.Member
	Kind    string
}

func (s *Server) journeyDetail(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	member := r.PathValue("member")
	kind := r.URL.Query().Get("kind")
	res, err := s.api.Journeys.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: s.opts.Community, MemberId: member, Kind: journeyKind(kind)}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	d := journeyPage{Journey: res.Msg.GetJourney(), Kind: kind}
	if mr, err := s.api.Members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: s.opts.Community, Id: member})); err == nil {
		d.Member = mr.Msg.GetMember()
	}
	title := "Journey"
	if d.Member != nil {
		title = "Journey of " + d.Member.GetDisplayName()
	}
	s.render(w, r, c, http.StatusOK, "journey", title, "journeys", d)
}

// journeySignal pauses, resumes, skips a step, marks the profile complete
// or a training task done, offboards, or cancels the journey.
func (s *Server) journeySignal(w http.ResponseWriter, r *http.Request, c *call) {
	member := r.PathValue("member")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	kind := journeyKind(v.Get("kind"))
	back := "/journeys/" + url.PathEscape(member)
	if kind == journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR {
		back += "?kind=ambassador"
	}
	ctx := r.Context()
	if v.Get("signal") == "cancel" {
		_, err = s.api.Journeys.CancelJourney(ctx, connect.NewRequest(&journeysv1.CancelJourneyRequest{Community: s.opts.Community, MemberId: member, Kind: kind}))
	} else {
		sig := journeysv1.JourneySignal(journeysv1.JourneySignal_value["JOURNEY_SIGNAL_"+strings.ToUpper(v.Get("signal"))])
		_, err = s.api.Journeys.SignalJourney(ctx, connect.NewRequest(&journeysv1.SignalJourneyRequest{Community: s.opts.Community, MemberId: member,
			Kind: kind, Signal: sig, Step: v.Get("step"), Task: v.Get("task")}))
	}
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, back, "signal-sent")
}

type rosterRow struct {
	E    *journeysv1.RosterEntry
	Name string
}

type ambassadorsPage struct {
	Form  *Form
	Rows  []rosterRow
	Pager pager
}

func (s *Server) ambassadorsPage(r *http.Request, form *Form) (ambassadorsPage, error) {
	ctx := r.Context()
	q := r.URL.Query()
	d := ambassadorsPage{Form: form}
	res, err := s.api.Journeys.ListProgramme(ctx, connect.NewRequest(&journeysv1.ListProgrammeRequest{Community: s.opts.Community, PageSize: pageSize, PageToken: q.Get("page")}))
	if err != nil {
		return d, err
	}
	ids := make([]string, 0, len(res.Msg.GetEntries()))
	for _, e := range res.Msg.GetEntries() {
		ids = append(ids, e.GetMemberId())
	}
	names := s.names(ctx, ids)
	for _, e := range res.Msg.GetEntries() {
		d.Rows = append(d.Rows, rosterRow{E: e, Name: names[e.GetMemberId()]})
	}
	d.Pager = pagerFor("/ambassadors", q, res.Msg.GetNextPageToken())
	return d, nil
}

// ambassadors is the programme's roster with the nominations waiting for
// review.
func (s *Server) ambassadors(w http.ResponseWriter, r *http.Request, c *call) {
	d, err := s.ambassadorsPage(r, newForm(nil))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "ambassadors", "Ambassador programme", "ambassadors", d)
}

func (s *Server) nominate(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	_, err = s.api.Journeys.NominateAmbassador(r.Context(), connect.NewRequest(&journeysv1.NominateAmbassadorRequest{Community: s.opts.Community,
		MemberId: strings.TrimSpace(v.Get("member_id"))}))
	if err == nil {
		seeOther(w, r, "/ambassadors", "nominated")
		return
	}
	form.apply(err, nil)
	if !allowed(c.ss, team) { // an ambassador nominating a peer from their page
		msg := form.Problem
		for _, f := range form.Fields {
			msg += " " + f + ": " + form.Errors[f] + "."
		}
		s.problem(w, r, c, http.StatusBadRequest, strings.TrimSpace(msg))
		return
	}
	d, lerr := s.ambassadorsPage(r, form)
	if lerr != nil {
		s.apiFailed(w, r, c, lerr)
		return
	}
	s.render(w, r, c, http.StatusBadRequest, "ambassadors", "Ambassador programme", "ambassadors", d)
}

func (s *Server) review(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	decision := journeysv1.ReviewDecision_REVIEW_DECISION_REJECT
	if v.Get("decision") == "approve" {
		decision = journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE
	}
	if _, err := s.api.Journeys.ReviewNomination(r.Context(), connect.NewRequest(&journeysv1.ReviewNominationRequest{Community: s.opts.Community,
		MemberId: r.PathValue("member"), Decision: decision})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/ambassadors", "reviewed")
}
