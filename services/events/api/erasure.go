package api

import (
	"context"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
)

// ForgetMember erases a member's personal data here on behalf of the
// erasure workflow, and records it in the audit log in the same
// transaction. Calling it again removes nothing more.
func (h *Handler) ForgetMember(ctx context.Context, req *connect.Request[eventsv1.ForgetMemberRequest]) (*connect.Response[eventsv1.ForgetMemberResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	memberID, err := id("member_id", req.Msg.GetMemberId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	erased, err := h.store.ForgetMember(ctx, community, memberID)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "member forgotten", "community", community, "member_id", memberID,
		"rsvps_withdrawn", erased.RSVPsWithdrawn, "check_in_codes", erased.CheckInCodes, "feedback_comments", erased.FeedbackComments,
		"feed_tokens", erased.FeedTokens, "series_rsvps", erased.SeriesRSVPs)
	return connect.NewResponse(&eventsv1.ForgetMemberResponse{
		RsvpsWithdrawn:          int32(erased.RSVPsWithdrawn),
		CheckInCodesRemoved:     int32(erased.CheckInCodes),
		FeedbackCommentsRemoved: int32(erased.FeedbackComments),
		FeedTokensRemoved:       int32(erased.FeedTokens),
		SeriesRsvpsRemoved:      int32(erased.SeriesRSVPs),
		ForgottenAt:             ts(h.now()),
	}), nil
}
