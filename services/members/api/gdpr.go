package api

import (
	"context"
	"encoding/json"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// MergeMembers folds a duplicate record into the primary one.
func (h *Handler) MergeMembers(ctx context.Context, req *connect.Request[membersv1.MergeMembersRequest]) (*connect.Response[membersv1.MergeMembersResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	primary, duplicate := req.Msg.GetPrimaryId(), req.Msg.GetDuplicateId()
	var errs validate.Errors
	if primary == "" {
		errs = append(errs, validate.Field("primary_id", "is required"))
	}
	if duplicate == "" {
		errs = append(errs, validate.Field("duplicate_id", "is required"))
	}
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if primary == duplicate {
		return nil, h.toConnect(ctx, req.Spec(), validate.Field("duplicate_id", "must differ from primary_id"))
	}
	e, err := h.events.MemberMerged(community, primary, duplicate)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	m, err := h.store.Merge(ctx, community, primary, duplicate, h.audit, e)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "members merged", "community", community, "member_id", primary, "duplicate_id", duplicate)
	return connect.NewResponse(&membersv1.MergeMembersResponse{Member: toProto(m)}), nil
}

// memberExport is the JSON a member receives of their data.
type memberExport struct {
	ExportedAt time.Time              `json:"exported_at"`
	Member     json.RawMessage        `json:"member"`
	Consents   []domain.ConsentRecord `json:"consents"`
	Activities []domain.Activity      `json:"activities"`
	// Handles are their names at other tools; ReferralCode their code.
	Handles      []exportHandle `json:"handles"`
	ReferralCode string         `json:"referral_code,omitempty"`
}

type exportHandle struct {
	Provider string    `json:"provider"`
	Handle   string    `json:"handle"`
	LinkedAt time.Time `json:"linked_at"`
}

// ExportMemberData returns everything held about a member.
func (h *Handler) ExportMemberData(ctx context.Context, req *connect.Request[membersv1.ExportMemberDataRequest]) (*connect.Response[membersv1.ExportMemberDataResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	data, err := h.store.ExportData(ctx, m.Community, m.ID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	memberJSON, err := protoJSON(toProto(data.Member))
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	doc := memberExport{ExportedAt: h.now().UTC(), Member: memberJSON, Consents: data.Consents, Activities: data.Activities,
		Handles: []exportHandle{}, ReferralCode: data.ReferralCode}
	for _, hd := range data.Handles {
		doc.Handles = append(doc.Handles, exportHandle{Provider: hd.Provider, Handle: hd.Handle, LinkedAt: hd.LinkedAt})
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.audit.RecordNow(ctx, m.Community, "member.exported", "member", m.ID); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.ExportMemberDataResponse{Json: raw}), nil
}

// EraseMember removes a member's personal data.
func (h *Handler) EraseMember(ctx context.Context, req *connect.Request[membersv1.EraseMemberRequest]) (*connect.Response[membersv1.EraseMemberResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	e, err := h.events.MemberErased(m.Community, m.ID, h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.Erase(ctx, m.Community, m.ID, h.audit, e); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "member erased", "community", m.Community, "member_id", m.ID)
	erased, err := h.store.GetMember(ctx, m.Community, m.ID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.EraseMemberResponse{Member: toProto(erased)}), nil
}
