package api

import (
	"context"
	"encoding/json"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
)

// MemberData implements MemberDataService: a member's rows of the read
// side, for a subject-access export.
type MemberData struct{ base }

var _ insightsv1connect.MemberDataServiceHandler = (*MemberData)(nil)

// NewMemberData returns the member data API.
func NewMemberData(d Deps) *MemberData { return &MemberData{newBase(d)} }

// MemberDataPolicy is the policy entry of MemberDataService: organisers
// and platform admins for anyone, members (of any role) for themselves.
func MemberDataPolicy() auth.Policy {
	self := auth.ScopeSelf
	return auth.Policy{insightsv1connect.MemberDataServiceExportMemberDataProcedure: {Grants: grants{
		auth.Organiser: auth.ScopeCommunity, auth.PlatformAdmin: auth.ScopeCommunity, auth.Staff: self, auth.Ambassador: self, auth.Member: self}}}
}

// ExportMemberData returns what the read side holds about a member, and
// records the reading in the audit log.
func (h *MemberData) ExportMemberData(ctx context.Context, req *connect.Request[insightsv1.ExportMemberDataRequest]) (*connect.Response[insightsv1.ExportMemberDataResponse], error) {
	community, ferr := validate.Community(req.Msg.GetCommunity())
	if ferr != nil {
		return nil, rpc.InvalidArgument(ferr)
	}
	memberID := req.Msg.GetMemberId()
	if memberID == "" {
		p, _ := auth.FromContext(ctx)
		memberID = p.MemberID
	}
	if _, ferr := validate.Text("member_id", memberID, 1, 64); ferr != nil {
		return nil, rpc.InvalidArgument(ferr)
	}
	if err := auth.RequireTarget(ctx, memberID); err != nil {
		return nil, err
	}
	tables, err := h.store.MemberData(ctx, community, memberID)
	if err != nil {
		return nil, rpc.ToConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	raw, err := json.MarshalIndent(map[string]any{"member_id": memberID, "community": community, "tables": tables}, "", "  ")
	if err != nil {
		return nil, rpc.ToConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	if err := h.audit.RecordNow(ctx, community, "member.exported", "member", memberID); err != nil {
		return nil, rpc.ToConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	h.logger.InfoContext(ctx, "member data exported", "community", community, "member_id", memberID)
	return connect.NewResponse(&insightsv1.ExportMemberDataResponse{Json: raw}), nil
}
