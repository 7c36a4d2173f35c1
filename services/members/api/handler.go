// Package api serves the members service's Connect API. It validates
// through the domain, stores through the store, and maps domain errors to
// Connect codes.
package api

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/events"
)

// Store is what the API needs from the members store.
type Store interface {
	CreateMember(ctx context.Context, m domain.Member, joined kafka.Event) error
	GetMember(ctx context.Context, community, id string) (domain.Member, error)
	ListMembers(ctx context.Context, community, afterID string, limit int) ([]domain.Member, error)
}

// Handler implements MembersService.
type Handler struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
}

var _ membersv1connect.MembersServiceHandler = (*Handler)(nil)

// New returns the API over s.
func New(s Store, logger *slog.Logger) *Handler {
	return &Handler{store: s, logger: logger, now: time.Now}
}

// JoinCommunity validates the request, then stores the member and its
// MemberJoined event in one transaction.
func (h *Handler) JoinCommunity(ctx context.Context, req *connect.Request[membersv1.JoinCommunityRequest]) (*connect.Response[membersv1.JoinCommunityResponse], error) {
	m, err := domain.NewMember(domain.JoinRequest{
		Community:    req.Msg.GetCommunity(),
		Email:        req.Msg.GetEmail(),
		DisplayName:  req.Msg.GetDisplayName(),
		Interests:    req.Msg.GetInterests(),
		EmailConsent: req.Msg.GetEmailConsent(),
	}, newID(), h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	joined, err := events.MemberJoined(newID(), m)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.CreateMember(ctx, m, joined); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "member joined", "community", m.Community, "member_id", m.ID)
	return connect.NewResponse(&membersv1.JoinCommunityResponse{Member: toProto(m)}), nil
}

// GetMember returns one member.
func (h *Handler) GetMember(ctx context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if req.Msg.GetId() == "" {
		return nil, h.toConnect(ctx, req.Spec(), fieldRequired("id"))
	}
	if err := auth.RequireTarget(ctx, req.Msg.GetId()); err != nil {
		return nil, err
	}
	m, err := h.store.GetMember(ctx, community, req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.GetMemberResponse{Member: toProto(m)}), nil
}

// ListMembers returns one page of a community's members.
func (h *Handler) ListMembers(ctx context.Context, req *connect.Request[membersv1.ListMembersRequest]) (*connect.Response[membersv1.ListMembersResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	size, err := pageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	after, err := decodePageToken(community, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	// One extra row tells whether another page follows.
	members, err := h.store.ListMembers(ctx, community, after, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListMembersResponse{}
	if len(members) > size {
		members = members[:size]
		res.NextPageToken = encodePageToken(community, members[size-1].ID)
	}
	for _, m := range members {
		res.Members = append(res.Members, toProto(m))
	}
	return connect.NewResponse(res), nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
