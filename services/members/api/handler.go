// Package api serves the members service's Connect APIs. It validates
// through the domain, stores through the store, and maps domain errors to
// Connect codes.
package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/rpc"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/services/members/store"
)

// Handler implements MembersService.
type Handler struct {
	store  *store.Store
	audit  *audit.Log
	events events.Factory
	logger *slog.Logger
	now    func() time.Time
}

var _ membersv1connect.MembersServiceHandler = (*Handler)(nil)

// New returns the members API over s.
func New(s *store.Store, log *audit.Log, logger *slog.Logger) *Handler {
	return &Handler{store: s, audit: log, logger: logger, now: time.Now}
}

// JoinCommunity validates the request against the community's settings,
// then stores the member, its consent and its events in one transaction.
func (h *Handler) JoinCommunity(ctx context.Context, req *connect.Request[membersv1.JoinCommunityRequest]) (*connect.Response[membersv1.JoinCommunityResponse], error) {
	settings, err := h.settings(ctx, req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	profile := events.ProfileFromProto(req.Msg.GetProfile())
	profile.Email, profile.DisplayName = first(req.Msg.GetEmail(), profile.Email), first(req.Msg.GetDisplayName(), profile.DisplayName)
	if len(req.Msg.GetInterests()) > 0 {
		profile.Interests = req.Msg.GetInterests()
	}
	now := h.now()
	m, err := domain.NewMember(domain.JoinRequest{
		Community: req.Msg.GetCommunity(), Profile: profile, EmailConsent: req.Msg.GetEmailConsent(),
		Source: events.SourceFromProto(req.Msg.GetSource()),
	}, settings, newID(), now)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	joined, err := h.events.MemberJoined(m)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	evs := []kafka.Event{joined}
	var consent *domain.ConsentRecord
	if m.EmailConsent {
		rec, err := domain.NewConsentRecord(m.ID, domain.PurposeAnnouncements, true, "join", DefaultPolicyVersion, now)
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
		changed, err := h.events.ConsentChanged(m.Community, rec)
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
		consent, evs = &rec, append(evs, changed)
	}
	if err := h.store.CreateMember(ctx, m, consent, evs...); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "member joined", "community", m.Community, "member_id", m.ID)
	return connect.NewResponse(&membersv1.JoinCommunityResponse{Member: toProto(m)}), nil
}

// DefaultPolicyVersion stands for consent given where no policy version
// was named (a join or import without one).
const DefaultPolicyVersion = "unspecified"

// GetMember returns one member.
func (h *Handler) GetMember(ctx context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), "id")
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
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	after, err := rpc.DecodePageToken(community, req.Msg.GetPageToken())
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
		res.NextPageToken = rpc.EncodePageToken(community, members[size-1].ID)
	}
	for _, m := range members {
		res.Members = append(res.Members, toProto(m))
	}
	return connect.NewResponse(res), nil
}

// UpdateProfile changes the masked profile fields.
func (h *Handler) UpdateProfile(ctx context.Context, req *connect.Request[membersv1.UpdateProfileRequest]) (*connect.Response[membersv1.UpdateProfileResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), "id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	settings, err := h.store.Settings(ctx, m.Community)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	merged, err := m.Profile.ApplyMask(events.ProfileFromProto(req.Msg.GetProfile()), req.Msg.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if merged, err = merged.Validate(settings); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	changed := m.Profile.Changed(merged)
	if len(changed) == 0 {
		return connect.NewResponse(&membersv1.UpdateProfileResponse{Member: toProto(m)}), nil
	}
	m.Profile = merged
	e, err := h.events.ProfileUpdated(m, changed)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.UpdateProfile(ctx, m, e); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "profile updated", "community", m.Community, "member_id", m.ID, "fields", changed)
	return connect.NewResponse(&membersv1.UpdateProfileResponse{Member: toProto(m)}), nil
}

// ChangeStatus moves a member along the lifecycle.
func (h *Handler) ChangeStatus(ctx context.Context, req *connect.Request[membersv1.ChangeStatusRequest]) (*connect.Response[membersv1.ChangeStatusResponse], error) {
	to, ok := events.StatusFromProto(req.Msg.GetStatus())
	if !ok || to == domain.StatusErased {
		return nil, h.toConnect(ctx, req.Spec(), fieldInvalid("status", "must be invited, active, inactive or left"))
	}
	m, err := h.move(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), to)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.ChangeStatusResponse{Member: toProto(m)}), nil
}

// LeaveCommunity ends a membership.
func (h *Handler) LeaveCommunity(ctx context.Context, req *connect.Request[membersv1.LeaveCommunityRequest]) (*connect.Response[membersv1.LeaveCommunityResponse], error) {
	m, err := h.move(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), domain.StatusLeft)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.LeaveCommunityResponse{Member: toProto(m)}), nil
}

// move changes a member's status, with StatusChanged and, on leaving,
// MemberLeft.
func (h *Handler) move(ctx context.Context, community, id string, to domain.Status) (domain.Member, error) {
	m, err := h.target(ctx, community, id, "id")
	if err != nil {
		return m, err
	}
	if m.Status == to {
		return m, nil
	}
	if !domain.CanMove(m.Status, to) {
		return m, domain.ErrBadTransition
	}
	changed, err := h.events.StatusChanged(m.Community, m.ID, m.Status, to)
	if err != nil {
		return m, err
	}
	evs := []kafka.Event{changed}
	if to == domain.StatusLeft {
		left, err := h.events.MemberLeft(m.Community, m.ID, h.now())
		if err != nil {
			return m, err
		}
		evs = append(evs, left)
	}
	if err := h.store.SetStatus(ctx, m.Community, m.ID, m.Status, to, evs...); err != nil {
		return m, err
	}
	h.logger.InfoContext(ctx, "member status changed", "community", m.Community, "member_id", m.ID, "from", m.Status.String(), "to", to.String())
	m.Status = to
	return m, nil
}

// target loads the member a call is about, after checking the caller may
// act on them.
func (h *Handler) target(ctx context.Context, rawCommunity, id, field string) (domain.Member, error) {
	community, err := communityOf(rawCommunity)
	if err != nil {
		return domain.Member{}, err
	}
	if id == "" {
		return domain.Member{}, fieldRequired(field)
	}
	if err := auth.RequireTarget(ctx, id); err != nil {
		return domain.Member{}, err
	}
	return h.store.GetMember(ctx, community, id)
}

// settings returns the settings of a valid, served community.
func (h *Handler) settings(ctx context.Context, rawCommunity string) (domain.Settings, error) {
	community, err := communityOf(rawCommunity)
	if err != nil {
		return domain.Settings{}, err
	}
	return h.store.Settings(ctx, community)
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
