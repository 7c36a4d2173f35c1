package api

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
)

// ForgetMember unlinks an erased member from the contributions they made
// on a partner's behalf, on behalf of the erasure workflow. The
// contributions stay: they are the partner's and count in totals and
// reports. Only the member id goes — it is pseudonymous, but it is the one
// link from a partner's record to a person, and contribution lists and CSV
// exports leave the platform. Calling it again changes nothing more.
func (h *Contributions) ForgetMember(ctx context.Context, req *connect.Request[partnersv1.ForgetMemberRequest]) (*connect.Response[partnersv1.ForgetMemberResponse], error) {
	community, memberID, err := target(req.Msg.GetCommunity(), "member_id", req.Msg.GetMemberId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	unlinked, err := h.store.ForgetMember(ctx, community, memberID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "member forgotten", "community", community, "member_id", memberID, "contributions_unlinked", unlinked)
	return connect.NewResponse(&partnersv1.ForgetMemberResponse{
		ContributionsUnlinked: int32(unlinked),
		ForgottenAt:           timestamppb.New(h.now()),
	}), nil
}
