package journeysapi

import (
	"context"
	"errors"
	"strconv"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// TestRunDefinition runs a version for one member with every message
// going to the caller.
func (h *Handler) TestRunDefinition(ctx context.Context, req *connect.Request[journeysv1.TestRunDefinitionRequest]) (*connect.Response[journeysv1.TestRunDefinitionResponse], error) {
	m := req.Msg
	tc, err := h.temporal(m.GetCommunity())
	if err != nil {
		return nil, err
	}
	if err := requireMember(m.GetMemberId()); err != nil {
		return nil, err
	}
	if err := requireVersion("version", m.GetVersion()); err != nil {
		return nil, err
	}
	caller, _ := auth.FromContext(ctx)
	if caller.MemberID == "" {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("a test run sends every message to you: sign in as a member of the community"))
	}
	member, err := h.opts.Members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: m.GetCommunity(), Id: m.GetMemberId()}))
	switch code := connect.CodeOf(err); {
	case code == connect.CodeNotFound, code == connect.CodeInvalidArgument:
		return nil, rpc.InvalidArgument(validate.Field("member_id", "is not a member of the community"))
	case err != nil:
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	case member.Msg.GetMember().GetStatus() == membersv1.MemberStatus_MEMBER_STATUS_LEFT || member.Msg.GetMember().GetStatus() == membersv1.MemberStatus_MEMBER_STATUS_ERASED:
		return nil, rpc.InvalidArgument(validate.Field("member_id", "is no longer in the community"))
	}
	v, err := h.opts.Store.Get(ctx, m.GetCommunity(), definitions.KindOnboarding, int(m.GetVersion()))
	if err != nil {
		return nil, h.storeError(ctx, req.Spec().Procedure, err)
	}
	g, err := v.Onboarding()
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	id := onboarding.TestWorkflowID(m.GetCommunity(), m.GetMemberId())
	err = h.opts.Store.Record(ctx, m.GetCommunity(), ActionTestRun, definitions.TargetDefinition, definitions.KindOnboarding+"/"+strconv.Itoa(v.Version), func() error {
		_, err := onboarding.StartTest(ctx, tc, m.GetCommunity(), m.GetMemberId(), caller.MemberID, g, v.Version)
		return err
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec().Procedure, err)
	}
	h.opts.Logger.InfoContext(ctx, "test run started", "workflow_id", id, "version", v.Version)
	return connect.NewResponse(&journeysv1.TestRunDefinitionResponse{JourneyId: id, Version: int32(v.Version)}), nil
}
