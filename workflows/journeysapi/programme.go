package journeysapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/ambassador"
)

// NominateAmbassador checks a member against the programme's criteria and
// starts their candidacy.
func (h *Handler) NominateAmbassador(ctx context.Context, req *connect.Request[journeysv1.NominateAmbassadorRequest]) (*connect.Response[journeysv1.NominateAmbassadorResponse], error) {
	m := req.Msg
	tc, err := h.temporal(m.GetCommunity())
	if err != nil {
		return nil, err
	}
	if err := requireMember(m.GetMemberId()); err != nil {
		return nil, err
	}
	// Members nominate only themselves; the policy gives them self scope.
	if err := auth.RequireTarget(ctx, m.GetMemberId()); err != nil {
		return nil, err
	}
	caller, _ := auth.FromContext(ctx)
	nomination := nominationBy(caller, m.GetMemberId(), h.now())
	p, version, err := h.opts.Store.CurrentProgramme(ctx, m.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	e, err := ambassador.Assess(ctx, h.opts.Members, h.opts.Engagement, m.GetCommunity(), m.GetMemberId(), p.Criteria, h.now())
	switch code := connect.CodeOf(err); {
	case code == connect.CodeNotFound, code == connect.CodeInvalidArgument:
		return nil, rpc.InvalidArgument(validate.Field("member_id", "is not a member of the community"))
	case err != nil:
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	case !e.Eligible:
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the member does not meet the programme's criteria: %s", strings.Join(e.Reasons, "; ")))
	}
	id := ambassador.WorkflowID(m.GetCommunity(), m.GetMemberId())
	err = h.opts.Store.Record(ctx, m.GetCommunity(), ActionNominated, targetJourney, id, func() error {
		return ambassador.Nominate(ctx, tc, m.GetCommunity(), m.GetMemberId(), nomination, p, version)
	})
	if errors.Is(err, ambassador.ErrInProgramme) {
		return nil, connect.NewError(connect.CodeAlreadyExists, err)
	}
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	h.opts.Logger.InfoContext(ctx, "ambassador nominated", "community", m.GetCommunity(), "member_id", m.GetMemberId(), "by_kind", nomination.Kind)
	j := &journeysv1.Journey{Id: id, Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR,
		Community: m.GetCommunity(), MemberId: m.GetMemberId(), Status: journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING,
		CurrentStep: ambassador.StageEligibility, StartedAt: ts(h.now()),
		Detail: &journeysv1.Journey_Ambassador{Ambassador: &journeysv1.AmbassadorDetail{NominatedByKind: nomination.Kind, ProgrammeVersion: int32(version)}}}
	return connect.NewResponse(&journeysv1.NominateAmbassadorResponse{Journey: j}), nil
}

// nominationBy says who nominates: organisers (and platform admins and
// organiser API keys) for anyone, the member themselves, or a peer.
func nominationBy(caller auth.Principal, memberID string, now time.Time) ambassador.Nomination {
	n := ambassador.Nomination{By: reviewerID(caller), At: now}
	switch {
	case caller.Has(auth.Organiser) || caller.Has(auth.PlatformAdmin):
		n.Kind = ambassador.NominatedByOrganiser
	case caller.MemberID == memberID:
		n.Kind = ambassador.NominatedBySelf
	default:
		n.Kind = ambassador.NominatedByPeer
	}
	return n
}

// reviewerID names the caller in a candidacy: their member id, or their
// token subject when they are no member.
func reviewerID(p auth.Principal) string {
	if p.MemberID != "" {
		return p.MemberID
	}
	return string(p.Kind) + ":" + p.Subject
}

// ReviewNomination records a reviewer's decision on a nomination in
// review.
func (h *Handler) ReviewNomination(ctx context.Context, req *connect.Request[journeysv1.ReviewNominationRequest]) (*connect.Response[journeysv1.ReviewNominationResponse], error) {
	m := req.Msg
	var approve bool
	switch m.GetDecision() {
	case journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE:
		approve = true
	case journeysv1.ReviewDecision_REVIEW_DECISION_REJECT:
	default:
		return nil, rpc.InvalidArgument(validate.Field("decision", "must be approve or reject"))
	}
	j, err := h.journey(ctx, m.GetCommunity(), m.GetMemberId(), journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	if j.GetStatus() != journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING || j.GetCurrentStep() != ambassador.StageReview {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the nomination is not in review (stage %s)", j.GetCurrentStep()))
	}
	caller, _ := auth.FromContext(ctx)
	review := ambassador.Review{ReviewerID: reviewerID(caller), Approve: approve, Override: caller.Has(auth.PlatformAdmin)}
	if reviewers := j.GetAmbassador().GetReviewers(); len(reviewers) > 0 && !review.Override && !slices.Contains(reviewers, review.ReviewerID) {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("you are not a reviewer of this nomination"))
	}
	tc, _ := h.temporal(m.GetCommunity())
	if err := h.opts.Store.Record(ctx, m.GetCommunity(), ActionReviewed, targetJourney, j.GetId(), func() error {
		return tc.SignalWorkflow(ctx, j.GetId(), "", ambassador.SignalReview, review)
	}); err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	h.opts.Logger.InfoContext(ctx, "nomination reviewed", "workflow_id", j.GetId(), "approve", approve)
	return connect.NewResponse(&journeysv1.ReviewNominationResponse{}), nil
}

// ListProgramme lists the programme's candidates and ambassadors from the
// workflows' memos.
func (h *Handler) ListProgramme(ctx context.Context, req *connect.Request[journeysv1.ListProgrammeRequest]) (*connect.Response[journeysv1.ListProgrammeResponse], error) {
	m := req.Msg
	tc, err := h.temporal(m.GetCommunity())
	if err != nil {
		return nil, err
	}
	statuses := m.GetStatuses()
	if len(statuses) == 0 {
		statuses = []journeysv1.JourneyStatus{journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING}
	}
	page, err := list(ctx, tc, ambassador.WorkflowName, statuses, m.GetPageSize(), m.GetPageToken(), 100)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	res := &journeysv1.ListProgrammeResponse{NextPageToken: page.next}
	prefix := ambassador.WorkflowID(m.GetCommunity(), "")
	for _, info := range page.executions {
		memo := memoOf(info.GetMemo())
		res.Entries = append(res.Entries, &journeysv1.RosterEntry{
			MemberId: strings.TrimPrefix(info.GetExecution().GetWorkflowId(), prefix),
			Stage:    memo.str(ambassador.MemoStage), Tier: memo.str(ambassador.MemoTier), Buddies: memo.number(ambassador.MemoBuddies),
			Cycle: memo.number(ambassador.MemoCycle), Status: statusOf(info.GetStatus()), Outcome: memo.str(ambassador.MemoOutcome),
			StartedAt: info.GetStartTime(),
		})
	}
	return connect.NewResponse(res), nil
}
