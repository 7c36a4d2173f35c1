// Package api serves the members service's Connect APIs. It validates
// through the domain, stores through the store, and maps domain errors to
// Connect codes.
package api

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/rpc"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/validate"
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
// then stores the member, its consent, its audit entry and its events in
// one transaction.
//
// The community's team (organisers, staff, platform admins, workloads)
// vouches for the address it adds: the member is verified, their consent
// in effect with the basis "organiser", and they are returned; an address
// already in the community is ALREADY_EXISTS. A public join (no
// credentials, or a member's own) is double opt-in: the member waits
// unverified, without consent, for the confirmation link the
// communications service sends; and the answer is the same whether the
// address was new or already a member's, who is told by e-mail instead
// (at most once a day).
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
	vouched := auth.ScopeOf(ctx) == auth.ScopeCommunity
	source, err := h.joinSource(ctx, settings.Community, req.Msg, vouched)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	now := h.now()
	m, err := domain.NewMember(domain.JoinRequest{
		Community: req.Msg.GetCommunity(), Profile: profile, EmailConsent: req.Msg.GetEmailConsent(),
		Source: source, Vouched: vouched,
	}, settings, newID(), now)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	evs, consent, err := h.joinEvents(m, now)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if vouched {
		if err := h.store.CreateMember(ctx, m, consent, h.audit, evs...); err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
		h.logger.InfoContext(ctx, "member added", "community", m.Community, "member_id", m.ID)
		return connect.NewResponse(&membersv1.JoinCommunityResponse{Member: toProto(m)}), nil
	}
	err = h.store.CreateMember(ctx, m, nil, publicAudit{h.audit}, evs...)
	switch {
	case errors.Is(err, domain.ErrEmailTaken):
		told, err := h.store.RepeatJoin(ctx, m.Community, m.Email, now, domain.RepeatJoinEvery, publicAudit{h.audit}, func(existing domain.Member) ([]kafka.Event, error) {
			return h.repeatEvents(existing, now)
		})
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
		h.logger.InfoContext(ctx, "join with a member's address", "community", m.Community, "member_told", told)
	case err != nil:
		return nil, h.toConnect(ctx, req.Spec(), err)
	default:
		h.logger.InfoContext(ctx, "member joined, address to confirm", "community", m.Community, "member_id", m.ID)
	}
	// The same answer for a new address and a member's: nothing tells them apart.
	return connect.NewResponse(&membersv1.JoinCommunityResponse{ConfirmationSent: true}), nil
}

// joinSource is how a joining member found the community. A referral
// code makes it the code's member's referral; only the community's team
// may name a referrer by id (a public join could otherwise credit anyone).
func (h *Handler) joinSource(ctx context.Context, community string, req *membersv1.JoinCommunityRequest, vouched bool) (domain.Source, error) {
	source := events.SourceFromProto(req.GetSource())
	code := strings.ToLower(strings.TrimSpace(req.GetReferralCode()))
	switch {
	case code != "":
		if len(code) > 40 {
			return source, validate.Field("referral_code", "is not a referral code of the community")
		}
		referrer, err := h.store.Referrer(ctx, community, code)
		if errors.Is(err, domain.ErrUnknownReferrer) {
			return source, validate.Field("referral_code", "is not a referral code of the community")
		}
		if err != nil {
			return source, err
		}
		return domain.Source{Kind: domain.SourceReferral, ReferrerID: referrer}, nil
	case source.Kind == domain.SourceReferral && !vouched:
		return source, validate.Field("source.referrer_id", "cannot be named on a public join; join with the referrer's referral_code")
	}
	return source, nil
}

// joinEvents are the events of m joining: MemberJoined, and either the
// consent the team's join put in effect or the confirmation a public join
// asks for.
func (h *Handler) joinEvents(m domain.Member, now time.Time) ([]kafka.Event, *domain.ConsentRecord, error) {
	joined, err := h.events.MemberJoined(m)
	if err != nil {
		return nil, nil, err
	}
	evs := []kafka.Event{joined}
	if !m.EmailVerified {
		confirm, err := h.events.EmailConfirmationRequested(m, m.Email, domain.ConfirmJoin, now)
		return append(evs, confirm), nil, err
	}
	if !m.EmailConsent {
		return evs, nil, nil
	}
	rec, err := domain.NewConsentRecord(m.ID, domain.PurposeAnnouncements, true, domain.ConsentSourceOrganiser, domain.DefaultPolicyVersion, now)
	if err != nil {
		return nil, nil, err
	}
	changed, err := h.events.ConsentChanged(m.Community, rec)
	return append(evs, changed), &rec, err
}

// repeatEvents tell the member whose address a public join named: "you are
// already in" when their address is confirmed, a fresh confirmation link
// when it is not.
func (h *Handler) repeatEvents(existing domain.Member, now time.Time) ([]kafka.Event, error) {
	if !existing.EmailVerified {
		e, err := h.events.EmailConfirmationRequested(existing, existing.Email, domain.ConfirmJoin, now)
		return []kafka.Event{e}, err
	}
	e, err := h.events.JoinRepeated(existing.Community, existing.ID, now)
	return []kafka.Event{e}, err
}

// publicAudit records a public call as anonymous (or as the member whose
// credentials it carried), never as an error for want of a caller.
type publicAudit struct{ log *audit.Log }

func (p publicAudit) Record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error {
	return p.log.RecordAnonymous(ctx, tx, community, action, targetType, targetID)
}

// RecordAll records public calls sharing a transaction (a group commit of
// joins), each as anonymous or as its own caller.
func (p publicAudit) RecordAll(ctx context.Context, tx *sql.Tx, items ...audit.Item) error {
	return p.log.RecordAllAnonymous(ctx, tx, items...)
}

// GetMember returns one member.
func (h *Handler) GetMember(ctx context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), "id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.GetMemberResponse{Member: toProto(m)}), nil
}

// ListMembers returns one page of a community's members, or of those a
// search query finds.
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
	query, err := domain.ParseSearchQuery("query", req.Msg.GetQuery())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	// One extra row tells whether another page follows.
	var members []domain.Member
	if query.Prefix != "" {
		members, err = h.store.SearchMembers(ctx, community, query, after, size+1)
	} else {
		members, err = h.store.ListMembers(ctx, community, after, size+1)
	}
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

// UpdateProfile changes the masked profile fields. A new address given by
// the community's team (organisers, staff, platform admins) takes effect
// at once, verified; one a member gives for themselves waits in
// pending_email for the confirmation link sent to it.
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
	next := m
	next.Profile, next.Email = merged, m.Email // the address changes only through ChangeEmail
	confirm := next.ChangeEmail(merged.Email, auth.ScopeOf(ctx) == auth.ScopeCommunity)
	changed := m.Profile.Changed(next.Profile)
	if len(changed) == 0 && !confirm {
		return connect.NewResponse(&membersv1.UpdateProfileResponse{Member: toProto(m)}), nil
	}
	now := h.now()
	var evs []kafka.Event
	if len(changed) > 0 {
		e, err := h.events.ProfileUpdated(next, changed)
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
		evs = append(evs, e)
	}
	if slices.Contains(changed, "email") {
		// The team vouched for the new address.
		e, err := h.events.EmailConfirmed(next, next.Email, domain.ConfirmOrganiser, now)
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
		evs = append(evs, e)
	}
	if confirm {
		e, err := h.events.EmailConfirmationRequested(next, next.PendingEmail, domain.ConfirmEmailChange, now)
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
		evs = append(evs, e)
	}
	if err := h.store.UpdateProfile(ctx, next, h.audit, evs...); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "profile updated", "community", m.Community, "member_id", m.ID, "fields", changed, "address_to_confirm", confirm)
	return connect.NewResponse(&membersv1.UpdateProfileResponse{Member: toProto(next)}), nil
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
	action := "member.status_changed"
	if to == domain.StatusLeft {
		left, err := h.events.MemberLeft(m.Community, m.ID, h.now())
		if err != nil {
			return m, err
		}
		evs, action = append(evs, left), "member.left"
	}
	if err := h.store.SetStatus(ctx, m.Community, m.ID, m.Status, to, h.audit, action, evs...); err != nil {
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
