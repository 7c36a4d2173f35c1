package api

import (
	"context"
	"encoding/json"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// ExportMemberData returns what the service holds about a member, as
// JSON, and records the reading in the audit log.
func (h *Handler) ExportMemberData(ctx context.Context, req *connect.Request[communicationsv1.ExportMemberDataRequest]) (*connect.Response[communicationsv1.ExportMemberDataResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	memberID := req.Msg.GetMemberId()
	if memberID == "" {
		p, _ := auth.FromContext(ctx)
		memberID = p.MemberID
	}
	if _, ferr := validate.Text("member_id", memberID, 1, domain.MaxMemberIDLength); ferr != nil {
		return nil, h.toConnect(ctx, req.Spec(), ferr)
	}
	if err := auth.RequireTarget(ctx, memberID); err != nil {
		return nil, err
	}
	tables, err := h.store.MemberData(ctx, community, memberID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	raw, err := json.MarshalIndent(map[string]any{"member_id": memberID, "community": community, "tables": tables}, "", "  ")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.audit.RecordNow(ctx, community, "member.exported", "member", memberID); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "member data exported", "community", community, "member_id", memberID)
	return connect.NewResponse(&communicationsv1.ExportMemberDataResponse{Json: raw}), nil
}
