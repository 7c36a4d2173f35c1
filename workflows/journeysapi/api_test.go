package journeysapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// startAll runs a StartOnboarding stream to its end.
func startAll(t *testing.T, c journeysv1connect.JourneysServiceClient, req *journeysv1.StartOnboardingRequest) (last *journeysv1.StartOnboardingResponse, failures []*journeysv1.StartFailure, err error) {
	t.Helper()
	stream, err := c.StartOnboarding(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, nil, err
	}
	for stream.Receive() {
		last = stream.Msg()
		failures = append(failures, last.GetFailures()...)
	}
	return last, failures, stream.Err()
}

func fields(err error) []string { return rpc.FieldViolations(err) }

func TestCohortStartsAreIdempotentAndReportProgress(t *testing.T) {
	f := start(t)
	org := f.as(t, auth.Organiser, "org-member")

	last, failures, err := startAll(t, org, &journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"m1", "m2", "ghost", "gone", "m1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !last.GetDone() || last.GetTotal() != 4 || last.GetStarted() != 2 || last.GetFailed() != 2 || last.GetAlreadyStarted() != 0 {
		t.Errorf("first start: %+v", last)
	}
	reasons := map[string]string{}
	for _, f := range failures {
		reasons[f.GetMemberId()] = f.GetReason()
	}
	if reasons["ghost"] != "not a member of the community" || reasons["gone"] != "no longer in the community" {
		t.Errorf("failures %v", reasons)
	}

	last, _, err = startAll(t, org, &journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"m1", "m2"}})
	if err != nil || last.GetStarted() != 0 || last.GetAlreadyStarted() != 2 {
		t.Errorf("again: %+v, %v", last, err)
	}

	last, _, err = startAll(t, org, &journeysv1.StartOnboardingRequest{Community: "demo", SegmentId: "seg1"})
	if err != nil || last.GetTotal() != 3 || last.GetStarted() != 3 {
		t.Errorf("segment of two pages: %+v, %v", last, err)
	}

	bad := []struct {
		req   *journeysv1.StartOnboardingRequest
		field string
	}{
		{&journeysv1.StartOnboardingRequest{Community: "demo"}, "member_ids"},
		{&journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"m1"}, SegmentId: "seg1"}, "segment_id"},
		{&journeysv1.StartOnboardingRequest{Community: "demo", SegmentId: "nope"}, "segment_id"},
		{&journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"m1", ""}}, "member_ids[1]"},
		{&journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: make([]string, journeysapi.MaxMemberIDs+1)}, "member_ids"},
	}
	for _, b := range bad {
		_, _, err := startAll(t, org, b.req)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Contains(fields(err), b.field) {
			t.Errorf("%v: %v (fields %v), want InvalidArgument naming %s", b.req.GetSegmentId(), err, fields(err), b.field)
		}
	}
}

func TestJourneysCanBeReadListedSteeredAndCancelled(t *testing.T) {
	f := start(t)
	org := f.as(t, auth.Organiser, "org-member")
	ctx := context.Background()
	if _, _, err := startAll(t, org, &journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"m1", "m2"}}); err != nil {
		t.Fatal(err)
	}
	get := func(member string) *journeysv1.Journey {
		t.Helper()
		res, err := org.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: member}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetJourney()
	}
	eventually(t, "m1 waits for the profile", func() string {
		if j := get("m1"); j.GetCurrentStep() != onboarding.StepCompleteProfile || j.GetNextDeadline() == nil {
			return "journey " + j.String()
		}
		return ""
	})
	j := get("m1")
	if j.GetStatus() != journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING || j.GetId() != onboarding.WorkflowID("demo", "m1") ||
		!slices.Equal(j.GetOnboarding().GetSteps(), []string{"welcome", "complete-profile", "assign-buddy", "onboarded"}) || len(j.GetHistory()) < 3 ||
		j.GetOnboarding().GetDefinitionVersion() != 1 {
		t.Errorf("journey %v", j)
	}
	if _, err := org.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: "nobody"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("a member without a journey: %v", err)
	}

	// Steering: bad requests name their field; pause and resume.
	signal := func(req *journeysv1.SignalJourneyRequest) error {
		req.Community = "demo"
		if req.MemberId == "" {
			req.MemberId = "m1"
		}
		_, err := org.SignalJourney(ctx, connect.NewRequest(req))
		return err
	}
	for _, b := range []struct {
		req   *journeysv1.SignalJourneyRequest
		code  connect.Code
		field string
	}{
		{&journeysv1.SignalJourneyRequest{}, connect.CodeInvalidArgument, "signal"},
		{&journeysv1.SignalJourneyRequest{Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_SKIP, Step: "dance"}, connect.CodeInvalidArgument, "step"},
		{&journeysv1.SignalJourneyRequest{Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_TASK_COMPLETED, Task: "x"}, connect.CodeInvalidArgument, "signal"},
		{&journeysv1.SignalJourneyRequest{Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_PAUSE, MemberId: "nobody"}, connect.CodeNotFound, ""},
	} {
		err := signal(b.req)
		if connect.CodeOf(err) != b.code || (b.field != "" && !slices.Contains(fields(err), b.field)) {
			t.Errorf("%v: %v, want %v naming %q", b.req, err, b.code, b.field)
		}
	}
	// A versioned journey's steps are no line: a step that ran may be
	// skipped the next time the journey reaches it.
	if err := signal(&journeysv1.SignalJourneyRequest{Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_SKIP, Step: "welcome"}); err != nil {
		t.Errorf("skipping a step that ran: %v", err)
	}
	if err := signal(&journeysv1.SignalJourneyRequest{Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_PAUSE}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "m1 paused", func() string {
		if !get("m1").GetPaused() {
			return "not paused"
		}
		return ""
	})

	// Listing by status, and the memo's step.
	list := func(statuses ...journeysv1.JourneyStatus) []*journeysv1.JourneySummary {
		t.Helper()
		res, err := org.ListJourneys(ctx, connect.NewRequest(&journeysv1.ListJourneysRequest{Community: "demo", Statuses: statuses}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetJourneys()
	}
	eventually(t, "two running journeys listed", func() string {
		got := list(journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING)
		if len(got) != 2 {
			return "listed " + strings.Repeat("x", len(got))
		}
		for _, s := range got {
			if s.GetMemberId() == "m1" && (!s.GetPaused() || s.GetCurrentStep() != onboarding.StepCompleteProfile) {
				return "m1 listed as " + s.String()
			}
		}
		return ""
	})

	// Cancelling ends the journey; again is harmless; signals are refused.
	if _, err := org.CancelJourney(ctx, connect.NewRequest(&journeysv1.CancelJourneyRequest{Community: "demo", MemberId: "m1"})); err != nil {
		t.Fatal(err)
	}
	eventually(t, "m1 cancelled", func() string {
		if s := get("m1").GetStatus(); s != journeysv1.JourneyStatus_JOURNEY_STATUS_CANCELLED {
			return s.String()
		}
		return ""
	})
	if _, err := org.CancelJourney(ctx, connect.NewRequest(&journeysv1.CancelJourneyRequest{Community: "demo", MemberId: "m1"})); err != nil {
		t.Errorf("cancelling again: %v", err)
	}
	if err := signal(&journeysv1.SignalJourneyRequest{Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_RESUME}); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("signalling a finished journey: %v, want FailedPrecondition", err)
	}
	eventually(t, "listing by status", func() string {
		if n := len(list(journeysv1.JourneyStatus_JOURNEY_STATUS_CANCELLED)); n != 1 {
			return "cancelled listed"
		}
		return ""
	})
	if _, err := org.ListJourneys(ctx, connect.NewRequest(&journeysv1.ListJourneysRequest{Community: "demo", PageToken: "!!"})); !slices.Contains(fields(err), "page_token") {
		t.Errorf("a bad page token: %v", err)
	}
	if _, err := org.ListJourneys(ctx, connect.NewRequest(&journeysv1.ListJourneysRequest{Community: "demo", Statuses: []journeysv1.JourneyStatus{42}})); !slices.Contains(fields(err), "statuses[0]") {
		t.Errorf("a bad status: %v", err)
	}
}

func TestTheAmbassadorProgrammeThroughTheAPI(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	org := f.as(t, auth.Organiser, "org-member")
	reviewer := f.as(t, auth.Organiser, "org-member")
	stranger := f.as(t, auth.Organiser, "another-organiser")
	nominate := func(c journeysv1connect.JourneysServiceClient, member string) error {
		_, err := c.NominateAmbassador(ctx, connect.NewRequest(&journeysv1.NominateAmbassadorRequest{Community: "demo", MemberId: member}))
		return err
	}

	if err := nominate(org, "ghost"); connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Contains(fields(err), "member_id") {
		t.Errorf("nominating a non-member: %v", err)
	}
	if err := nominate(org, "low"); connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), `level "Observer" is below "Participant"`) {
		t.Errorf("nominating an Observer: %v", err)
	}
	if err := nominate(f.as(t, auth.Member, "m5"), "m6"); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a member nominating another: %v", err)
	}
	if err := nominate(f.as(t, auth.Member, "m5"), "m5"); err != nil {
		t.Errorf("self-nomination: %v", err)
	}
	if err := nominate(f.as(t, auth.Ambassador, "amb"), "m7"); err != nil {
		t.Errorf("peer nomination: %v", err)
	}
	if err := nominate(org, "cand"); err != nil {
		t.Fatal(err)
	}
	if err := nominate(org, "cand"); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Errorf("nominating twice: %v", err)
	}

	review := func(c journeysv1connect.JourneysServiceClient, d journeysv1.ReviewDecision) error {
		_, err := c.ReviewNomination(ctx, connect.NewRequest(&journeysv1.ReviewNominationRequest{Community: "demo", MemberId: "cand", Decision: d}))
		return err
	}
	get := func() *journeysv1.Journey {
		t.Helper()
		res, err := org.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: "cand", Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetJourney()
	}
	eventually(t, "the nomination in review", func() string {
		if s := get().GetCurrentStep(); s != ambassador.StageReview {
			return "stage " + s
		}
		return ""
	})
	if j := get(); j.GetAmbassador().GetNominatedByKind() != ambassador.NominatedByOrganiser || !slices.Equal(j.GetAmbassador().GetReviewers(), []string{"org-member"}) {
		t.Errorf("candidacy %v", j)
	}
	if err := review(reviewer, journeysv1.ReviewDecision_REVIEW_DECISION_UNSPECIFIED); !slices.Contains(fields(err), "decision") {
		t.Errorf("no decision: %v", err)
	}
	if err := review(stranger, journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a review by a non-reviewer: %v", err)
	}
	if err := review(reviewer, journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE); err != nil {
		t.Fatal(err)
	}
	eventually(t, "training", func() string {
		if s := get().GetCurrentStep(); s != ambassador.StageTraining {
			return "stage " + s
		}
		return ""
	})
	if err := review(reviewer, journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("a review after the review: %v", err)
	}
	signal := func(s journeysv1.JourneySignal, task string) error {
		_, err := org.SignalJourney(ctx, connect.NewRequest(&journeysv1.SignalJourneyRequest{Community: "demo", MemberId: "cand",
			Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, Signal: s, Task: task}))
		return err
	}
	if err := signal(journeysv1.JourneySignal_JOURNEY_SIGNAL_TASK_COMPLETED, "juggling"); !slices.Contains(fields(err), "task") {
		t.Errorf("an unknown task: %v", err)
	}
	if err := signal(journeysv1.JourneySignal_JOURNEY_SIGNAL_PAUSE, ""); !slices.Contains(fields(err), "signal") {
		t.Errorf("pausing a candidacy: %v", err)
	}
	for _, task := range ambassador.DefaultProgramme().Training {
		if err := signal(journeysv1.JourneySignal_JOURNEY_SIGNAL_TASK_COMPLETED, task.Name); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "active", func() string {
		if j := get(); j.GetCurrentStep() != ambassador.StageActive || j.GetAmbassador().GetTier() != "bronze" {
			return "stage " + j.GetCurrentStep()
		}
		return ""
	})

	eventually(t, "the roster", func() string {
		res, err := org.ListProgramme(ctx, connect.NewRequest(&journeysv1.ListProgrammeRequest{Community: "demo"}))
		if err != nil {
			return err.Error()
		}
		for _, e := range res.Msg.GetEntries() {
			if e.GetMemberId() == "cand" && e.GetStage() == ambassador.StageActive && e.GetTier() == "bronze" {
				return ""
			}
		}
		return "cand not listed as an active bronze ambassador"
	})

	if err := signal(journeysv1.JourneySignal_JOURNEY_SIGNAL_OFFBOARD, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "offboarded", func() string {
		if j := get(); j.GetOutcome() != ambassador.OutcomeOffboarded || j.GetStatus() != journeysv1.JourneyStatus_JOURNEY_STATUS_COMPLETED {
			return "outcome " + j.GetOutcome() + ", status " + j.GetStatus().String()
		}
		return ""
	})
	if err := signal(journeysv1.JourneySignal_JOURNEY_SIGNAL_OFFBOARD, ""); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("signalling an ended candidacy: %v", err)
	}
}
