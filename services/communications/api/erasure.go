package api

import (
	"context"
	"database/sql"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// ForgetMember erases a member's personal data here on behalf of the
// erasure workflow, as the recipients projection does on MemberErased:
// the projection row goes and the delivery log keeps ids only. The audit
// entry is written in the same transaction. Calling it again removes
// nothing more. Only the named community's data is touched: an id of
// another community's member removes nothing.
func (h *Handler) ForgetMember(ctx context.Context, req *connect.Request[communicationsv1.ForgetMemberRequest]) (*connect.Response[communicationsv1.ForgetMemberResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	memberID, ferr := validate.Text("member_id", req.Msg.GetMemberId(), 1, domain.MaxMemberIDLength)
	if ferr != nil {
		return nil, h.toConnect(ctx, req.Spec(), ferr)
	}
	redacted, err := h.countDeliveries(ctx, community, memberID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	removed := false
	err = h.store.DB().InTx(ctx, func(tx *sql.Tx) error {
		_, err := h.store.Recipient(ctx, tx, community, memberID)
		switch {
		case errors.Is(err, store.ErrNoRecipient):
		case err != nil:
			return err
		default:
			removed = true
		}
		if err := h.store.EraseRecipient(ctx, tx, community, memberID); err != nil {
			return err
		}
		return h.audit.Record(ctx, tx, community, "member.forgotten", "member", memberID)
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "member forgotten", "community", community, "member_id", memberID,
		"recipient_removed", removed, "messages_redacted", redacted)
	return connect.NewResponse(&communicationsv1.ForgetMemberResponse{
		RecipientRemoved: removed,
		MessagesRedacted: int32(redacted),
		ForgottenAt:      timestamppb.New(h.now()),
	}), nil
}

// countDeliveries counts a member's messages in the delivery log.
func (h *Handler) countDeliveries(ctx context.Context, community, memberID string) (int, error) {
	const page = 500
	n, before := 0, ""
	for {
		msgs, err := h.store.Deliveries(ctx, community, "", memberID, before, page)
		if err != nil {
			return 0, err
		}
		n += len(msgs)
		if len(msgs) < page {
			return n, nil
		}
		before = msgs[len(msgs)-1].ID
	}
}
