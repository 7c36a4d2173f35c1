package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// AssignRole gives a member a role.
func (h *Handler) AssignRole(ctx context.Context, req *connect.Request[membersv1.AssignRoleRequest]) (*connect.Response[membersv1.AssignRoleResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	caller, _ := auth.FromContext(ctx)
	if err := workloadRole(caller, req.Msg.GetRole()); err != nil {
		return nil, err
	}
	r, err := domain.NewRoleAssignment(req.Msg.GetRole(), req.Msg.GetTier(), caller.Subject, h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	e, err := h.events.RoleChanged(m.Community, m.ID, r.Role, r.Tier, true)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.AssignRole(ctx, m.Community, m.ID, r, h.audit, e); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "role assigned", "community", m.Community, "member_id", m.ID, "role", r.Role)
	fresh, err := h.store.GetMember(ctx, m.Community, m.ID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.AssignRoleResponse{Member: toProto(fresh)}), nil
}

// RevokeRole takes a role away.
func (h *Handler) RevokeRole(ctx context.Context, req *connect.Request[membersv1.RevokeRoleRequest]) (*connect.Response[membersv1.RevokeRoleResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	caller, _ := auth.FromContext(ctx)
	if err := workloadRole(caller, req.Msg.GetRole()); err != nil {
		return nil, err
	}
	e, err := h.events.RoleChanged(m.Community, m.ID, req.Msg.GetRole(), "", false)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.RevokeRole(ctx, m.Community, m.ID, req.Msg.GetRole(), h.audit, e); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "role revoked", "community", m.Community, "member_id", m.ID, "role", req.Msg.GetRole())
	fresh, err := h.store.GetMember(ctx, m.Community, m.ID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.RevokeRoleResponse{Member: toProto(fresh)}), nil
}

// workloadRole keeps workloads (the ambassador programme) to the
// ambassador role; organisers give every role.
func workloadRole(caller auth.Principal, role string) error {
	if caller.Has(auth.Workload) && role != domain.RoleAmbassador {
		return connect.NewError(connect.CodePermissionDenied, errors.New("workloads may only give and take the ambassador role"))
	}
	return nil
}
