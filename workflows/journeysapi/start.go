package journeysapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// Limits of a cohort start.
const (
	MaxMemberIDs   = 10_000
	MaxCohort      = 200_000
	maxFailures    = 100
	progressPeriod = 250 * time.Millisecond
)

// StartOnboarding starts the journeys of a member list or a segment and
// reports progress as it goes.
func (h *Handler) StartOnboarding(ctx context.Context, req *connect.Request[journeysv1.StartOnboardingRequest], stream *connect.ServerStream[journeysv1.StartOnboardingResponse]) error {
	community, err := auth.Confine(ctx, req.Msg.GetCommunity())
	if err != nil {
		return err
	}
	tc, err := h.temporal(community)
	if err != nil {
		return err
	}
	ids, check, err := h.cohort(ctx, community, req.Msg)
	if err != nil {
		return err
	}
	g, version, err := h.opts.Store.CurrentOnboarding(ctx, community)
	if err != nil {
		return h.toConnect(ctx, req.Spec().Procedure, err)
	}
	targetType, targetID := targetSegment, req.Msg.GetSegmentId()
	if targetID == "" {
		targetType, targetID = targetMemberList, strconv.Itoa(len(ids))
	}
	if err := h.opts.Store.Record(ctx, community, ActionCohortStarted, targetType, targetID, func() error { return nil }); err != nil {
		return h.toConnect(ctx, req.Spec().Procedure, err)
	}
	progress := &journeysv1.StartOnboardingResponse{Total: int64(len(ids))}
	if err := stream.Send(progress); err != nil {
		return err
	}

	type outcome struct {
		memberID, failure string
		started           bool
	}
	ctx, cancel := context.WithCancel(ctx)
	results := make(chan outcome, h.opts.StartConcurrency)
	defer func() {
		// A caller gone mid-way stops the feeding; the workers finish
		// what they hold and nobody waits for their results.
		cancel()
		go func() {
			for range results {
			}
		}()
	}()
	work := make(chan string)
	var wg sync.WaitGroup
	for range h.opts.StartConcurrency {
		wg.Go(func() {
			for id := range work {
				if check {
					if reason := h.memberProblem(ctx, community, id); reason != "" {
						results <- outcome{memberID: id, failure: reason}
						continue
					}
				}
				started, err := onboarding.Start(ctx, tc, community, id, g, version, false)
				o := outcome{memberID: id, started: started}
				if err != nil {
					h.opts.Logger.WarnContext(ctx, "cannot start an onboarding journey", "community", community, "member_id", id, "error", err)
					o.failure = "the journey could not be started; try again"
				}
				results <- o
			}
		})
	}
	go func() {
		defer close(work)
		for _, id := range ids {
			select {
			case work <- id:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()

	ticker := time.NewTicker(progressPeriod)
	defer ticker.Stop()
	failures := 0
	send := func(done bool) error {
		progress.Done = done
		err := stream.Send(progress)
		progress.Failures = nil
		return err
	}
	for {
		select {
		case o, ok := <-results:
			if !ok {
				if err := ctx.Err(); err != nil {
					return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the cohort start was interrupted; start it again to go on"))
				}
				h.opts.Logger.InfoContext(ctx, "cohort onboarding started", "community", community, "total", progress.Total,
					"started", progress.Started, "already_started", progress.AlreadyStarted, "failed", progress.Failed)
				return send(true)
			}
			switch {
			case o.failure != "":
				progress.Failed++
				if failures < maxFailures {
					failures++
					progress.Failures = append(progress.Failures, &journeysv1.StartFailure{MemberId: o.memberID, Reason: o.failure})
				}
			case o.started:
				progress.Started++
			default:
				progress.AlreadyStarted++
			}
		case <-ticker.C:
			if err := send(false); err != nil {
				return err
			}
		}
	}
}

// cohort reads the members to start: the list given (each to be checked)
// or the segment's members (known to be members).
func (h *Handler) cohort(ctx context.Context, community string, req *journeysv1.StartOnboardingRequest) (ids []string, check bool, err error) {
	list, segment := req.GetMemberIds(), req.GetSegmentId()
	switch {
	case len(list) > 0 && segment != "":
		return nil, false, rpc.InvalidArgument(validate.Field("segment_id", "give member_ids or segment_id, not both"))
	case len(list) == 0 && segment == "":
		return nil, false, rpc.InvalidArgument(validate.Field("member_ids", "give member_ids or segment_id"))
	case len(list) > MaxMemberIDs:
		return nil, false, rpc.InvalidArgument(validate.Field("member_ids", "must hold at most %d ids; use a segment for more", MaxMemberIDs))
	case segment != "":
		ids, err := h.segmentMembers(ctx, community, segment)
		return ids, false, err
	}
	var errs validate.Errors
	seen := map[string]bool{}
	for i, id := range list {
		if id == "" || len(id) > 64 {
			errs = append(errs, validate.Field(fmt.Sprintf("member_ids[%d]", i), "must be a member id"))
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, false, rpc.InvalidArgument(err)
	}
	return ids, true, nil
}

// segmentMembers pages through a saved segment.
func (h *Handler) segmentMembers(ctx context.Context, community, segmentID string) ([]string, error) {
	var ids []string
	token := ""
	for {
		res, err := h.opts.Segments.ListSegmentMembers(ctx, connect.NewRequest(&membersv1.ListSegmentMembersRequest{
			Community: community, SegmentId: segmentID, PageSize: 500, PageToken: token,
		}))
		switch connect.CodeOf(err) {
		case connect.CodeNotFound:
			return nil, rpc.InvalidArgument(validate.Field("segment_id", "is not a saved segment of the community"))
		case connect.CodeInvalidArgument:
			return nil, rpc.InvalidArgument(validate.Field("segment_id", "is not a segment id"))
		}
		if err != nil {
			return nil, fmt.Errorf("read segment %s: %w", segmentID, err)
		}
		for _, m := range res.Msg.GetMembers() {
			ids = append(ids, m.GetId())
		}
		if len(ids) > MaxCohort {
			return nil, rpc.InvalidArgument(validate.Field("segment_id", "selects more than %d members; narrow it", MaxCohort))
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return ids, nil
		}
	}
}

// memberProblem says why a listed member cannot start a journey, or "".
func (h *Handler) memberProblem(ctx context.Context, community, id string) string {
	res, err := h.opts.Members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: community, Id: id}))
	switch {
	case connect.CodeOf(err) == connect.CodeNotFound || connect.CodeOf(err) == connect.CodeInvalidArgument:
		return "not a member of the community"
	case err != nil:
		return "the member could not be looked up; try again"
	}
	switch res.Msg.GetMember().GetStatus() {
	case membersv1.MemberStatus_MEMBER_STATUS_LEFT, membersv1.MemberStatus_MEMBER_STATUS_ERASED:
		return "no longer in the community"
	}
	return ""
}
