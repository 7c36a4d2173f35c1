package journeysapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/ambassador"
)

// ListNominations lists the programme's nominations. A nomination is the
// first run of a candidacy's workflow (renewals continue it as new runs,
// a member nominated again starts a new first run), so its id is that
// run's id: listed again, the same nomination has the same id. Runs still
// checking the criteria or in review are pending without asking them;
// the others are asked their state for the reviews' times.
func (h *Handler) ListNominations(ctx context.Context, req *connect.Request[journeysv1.ListNominationsRequest]) (*connect.Response[journeysv1.ListNominationsResponse], error) {
	m := req.Msg
	tc, err := h.temporal(m.GetCommunity())
	if err != nil {
		return nil, err
	}
	size := m.GetPageSize()
	switch {
	case size < 0 || size > 500:
		return nil, rpc.InvalidArgument(validate.Field("page_size", "must be between 0 and 500"))
	case size == 0:
		size = 100
	}
	token, err := base64.RawURLEncoding.DecodeString(m.GetPageToken())
	if err != nil {
		return nil, rpc.InvalidArgument(validate.Field("page_token", "is not a page token of this list"))
	}
	// Every run, those that continued as new included: a candidacy that
	// renewed keeps its nomination in its first run.
	page, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: size, NextPageToken: token,
		Query: fmt.Sprintf("WorkflowType = '%s'", ambassador.WorkflowName)})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, fmt.Errorf("list %s workflows: %w", ambassador.WorkflowName, err))
	}
	res := &journeysv1.ListNominationsResponse{NextPageToken: base64.RawURLEncoding.EncodeToString(page.GetNextPageToken())}
	prefix := ambassador.WorkflowID(m.GetCommunity(), "")
	for _, info := range page.GetExecutions() {
		if !strings.HasPrefix(info.GetExecution().GetWorkflowId(), prefix) || memoOf(info.GetMemo()).number(ambassador.MemoCycle) != 0 {
			continue // a renewal: its nomination is its first run's
		}
		n, ok, err := h.nomination(ctx, tc, info, strings.TrimPrefix(info.GetExecution().GetWorkflowId(), prefix))
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec().Procedure, err)
		}
		if ok {
			res.Nominations = append(res.Nominations, n)
		}
	}
	return connect.NewResponse(res), nil
}

// nomination reads the nomination of a candidacy's run; ok is false when
// the run turns out to be a renewal.
func (h *Handler) nomination(ctx context.Context, tc client.Client, info *workflowInfo, memberID string) (*journeysv1.Nomination, bool, error) {
	run := info.GetExecution()
	n := &journeysv1.Nomination{Id: run.GetRunId(), MemberId: memberID, NominatedAt: info.GetStartTime(),
		Outcome: journeysv1.NominationOutcome_NOMINATION_OUTCOME_PENDING}
	running := info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if stage := memoOf(info.GetMemo()).str(ambassador.MemoStage); running && (stage == ambassador.StageEligibility || stage == ambassador.StageReview) {
		return n, true, nil
	}
	value, err := tc.QueryWorkflow(ctx, run.GetWorkflowId(), run.GetRunId(), ambassador.QueryState)
	if err != nil {
		// A run that failed before it could answer ended undecided.
		h.opts.Logger.WarnContext(ctx, "candidacy does not answer its state query", "workflow_id", run.GetWorkflowId(), "run_id", run.GetRunId(), "error", err)
		if running {
			return n, true, nil
		}
		n.Outcome, n.DecidedAt = journeysv1.NominationOutcome_NOMINATION_OUTCOME_ENDED, info.GetCloseTime()
		return n, true, nil
	}
	var s ambassador.State
	if err := value.Get(&s); err != nil {
		return nil, false, fmt.Errorf("read state of %s: %w", run.GetWorkflowId(), err)
	}
	if s.Cycle != 0 {
		return nil, false, nil
	}
	if !s.Nomination.At.IsZero() {
		n.NominatedAt = ts(s.Nomination.At)
	}
	n.NominatedByKind = s.Nomination.Kind
	n.Outcome, n.DecidedAt = decide(s, running, info)
	return n, true, nil
}

// decide says how a candidacy's nomination was decided, and when: an
// approval or rejection when the deciding review came, any other end when
// the run closed.
func decide(s ambassador.State, running bool, info *workflowInfo) (journeysv1.NominationOutcome, *timestamppb.Timestamp) {
	var reviewed time.Time
	rejected := false
	for _, r := range s.Reviews {
		reviewed = latest(reviewed, r.At)
		rejected = rejected || !r.Approve
	}
	closed := info.GetCloseTime()
	if running {
		closed = nil
	}
	switch {
	case passedReview(s):
		if reviewed.IsZero() {
			return journeysv1.NominationOutcome_NOMINATION_OUTCOME_APPROVED, info.GetStartTime()
		}
		return journeysv1.NominationOutcome_NOMINATION_OUTCOME_APPROVED, ts(reviewed)
	case s.Outcome == ambassador.OutcomeDeclined || rejected:
		return journeysv1.NominationOutcome_NOMINATION_OUTCOME_REJECTED, ts(reviewed)
	case closed == nil:
		// Still running, past the stages the memo showed: it is being
		// offboarded or ended just now; the next read settles it.
		return journeysv1.NominationOutcome_NOMINATION_OUTCOME_PENDING, nil
	case s.Outcome == ambassador.OutcomeIneligible:
		return journeysv1.NominationOutcome_NOMINATION_OUTCOME_INELIGIBLE, closed
	case s.Outcome == ambassador.OutcomeReviewExpired:
		return journeysv1.NominationOutcome_NOMINATION_OUTCOME_EXPIRED, closed
	case s.Outcome == ambassador.OutcomeWithdrawn:
		return journeysv1.NominationOutcome_NOMINATION_OUTCOME_WITHDRAWN, closed
	}
	return journeysv1.NominationOutcome_NOMINATION_OUTCOME_ENDED, closed
}

// passedReview reports whether the candidacy got past its review: it
// trained, was activated or has an ambassadorship's tier.
func passedReview(s ambassador.State) bool {
	if len(s.Tasks) > 0 || !s.ActivatedAt.IsZero() || s.Tier != "" {
		return true
	}
	switch s.Stage {
	case ambassador.StageTraining, ambassador.StageActivating, ambassador.StageActive:
		return true
	}
	return slices.ContainsFunc(s.History, func(e ambassador.Entry) bool {
		return e.Event == ambassador.EventStarted && (e.Stage == ambassador.StageTraining || e.Stage == ambassador.StageActivating || e.Stage == ambassador.StageActive)
	})
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
