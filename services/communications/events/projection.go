package events

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"google.golang.org/protobuf/proto"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// ProjectionGroup is the consumer group keeping the recipients projection.
const ProjectionGroup = "kinship-communications-recipients"

// Projection keeps the recipients projection from members.v1. Each event is
// applied once (the inbox), and events of one member arrive in order (they
// share a partition key).
type Projection struct {
	store *store.Store
	inbox *inbox.Inbox
}

// NewProjection applies members.v1 events to s.
func NewProjection(s *store.Store, in *inbox.Inbox) *Projection {
	return &Projection{store: s, inbox: in}
}

// Handle applies one members.v1 event.
func (p *Projection) Handle(ctx context.Context, e kafka.Event) error {
	apply, err := p.decode(e)
	if err != nil {
		return kafka.Permanent(err)
	}
	if apply == nil {
		return nil
	}
	_, err = p.inbox.Handle(ctx, ProjectionGroup, e.ID, func(tx *sql.Tx) error { return apply(ctx, tx) })
	return err
}

// decode returns how to apply e, or nil for events the projection ignores.
func (p *Projection) decode(e kafka.Event) (func(context.Context, *sql.Tx) error, error) {
	var msg proto.Message
	switch e.Type {
	case memberevents.TypeMemberJoined:
		msg = &membersv1.MemberJoined{}
	case memberevents.TypeProfileUpdated:
		msg = &membersv1.ProfileUpdated{}
	case memberevents.TypeConsentChanged:
		msg = &membersv1.ConsentChanged{}
	case memberevents.TypeLevelChanged:
		msg = &membersv1.LevelChanged{}
	case memberevents.TypeRoleChanged:
		msg = &membersv1.RoleChanged{}
	case memberevents.TypeStatusChanged:
		msg = &membersv1.StatusChanged{}
	case memberevents.TypeActivityRecorded:
		msg = &membersv1.ActivityRecorded{}
	case memberevents.TypeMemberMerged:
		msg = &membersv1.MemberMerged{}
	case memberevents.TypeMemberErased:
		msg = &membersv1.MemberErased{}
	default:
		return nil, nil
	}
	if err := kafka.Decode(e, e.Type, msg); err != nil {
		return nil, err
	}
	switch m := msg.(type) {
	case *membersv1.MemberJoined:
		r := domain.Recipient{MemberID: m.GetMemberId(), Community: m.GetCommunity(), Status: "active", JoinedAt: m.GetJoinedAt().AsTime()}
		applyProfile(&r, m.GetProfile())
		r.Email, r.DisplayName = first(m.GetEmail(), r.Email), first(m.GetDisplayName(), r.DisplayName)
		if m.GetEmailConsent() {
			r.Consents = []string{domain.PurposeAnnouncements}
		}
		return func(ctx context.Context, tx *sql.Tx) error { return p.store.PutRecipient(ctx, tx, r) }, nil
	case *membersv1.ProfileUpdated:
		return p.update(m.GetMemberId(), func(r *domain.Recipient) { applyProfile(r, m.GetProfile()) }), nil
	case *membersv1.ConsentChanged:
		return func(ctx context.Context, tx *sql.Tx) error {
			return p.store.SetConsent(ctx, tx, m.GetMemberId(), m.GetPurpose(), m.GetGranted())
		}, nil
	case *membersv1.LevelChanged:
		return p.update(m.GetMemberId(), func(r *domain.Recipient) { r.Level = m.GetToLevel() }), nil
	case *membersv1.RoleChanged:
		return p.update(m.GetMemberId(), func(r *domain.Recipient) {
			r.Roles = slices.DeleteFunc(r.Roles, func(role string) bool { return role == m.GetRole() })
			if m.GetAssigned() {
				r.Roles = append(r.Roles, m.GetRole())
			}
		}), nil
	case *membersv1.StatusChanged:
		return p.update(m.GetMemberId(), func(r *domain.Recipient) { r.Status = statusName(m.GetToStatus()) }), nil
	case *membersv1.ActivityRecorded:
		return p.update(m.GetMemberId(), func(r *domain.Recipient) {
			if at := m.GetOccurredAt().AsTime(); at.After(r.LastActiveAt) {
				r.LastActiveAt = at
			}
		}), nil
	case *membersv1.MemberMerged:
		return func(ctx context.Context, tx *sql.Tx) error {
			return p.store.DeleteRecipient(ctx, tx, m.GetDuplicateId())
		}, nil
	case *membersv1.MemberErased:
		return func(ctx context.Context, tx *sql.Tx) error { return p.store.EraseRecipient(ctx, tx, m.GetMemberId()) }, nil
	}
	return nil, nil
}

// update changes a known recipient; an event about a member the
// projection never saw (it joined before the projection existed) is
// skipped.
func (p *Projection) update(memberID string, change func(*domain.Recipient)) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		r, err := p.store.Recipient(ctx, tx, memberID)
		if errors.Is(err, store.ErrNoRecipient) {
			return nil
		}
		if err != nil {
			return err
		}
		change(&r)
		return p.store.PutRecipient(ctx, tx, r)
	}
}

func applyProfile(r *domain.Recipient, p *membersv1.Profile) {
	if p == nil {
		return
	}
	r.Email, r.DisplayName = first(p.GetEmail(), r.Email), first(p.GetDisplayName(), r.DisplayName)
	r.Locale, r.TimeZone = p.GetLocale(), p.GetTimeZone()
	r.CountryCode, r.Region, r.City = p.GetLocation().GetCountryCode(), p.GetLocation().GetRegion(), p.GetLocation().GetCity()
	r.Interests, r.Skills, r.Goals = p.GetInterests(), p.GetSkills(), p.GetGoals()
}

func statusName(s membersv1.MemberStatus) string {
	switch s {
	case membersv1.MemberStatus_MEMBER_STATUS_INVITED:
		return "invited"
	case membersv1.MemberStatus_MEMBER_STATUS_ACTIVE:
		return "active"
	case membersv1.MemberStatus_MEMBER_STATUS_INACTIVE:
		return "inactive"
	case membersv1.MemberStatus_MEMBER_STATUS_LEFT:
		return "left"
	case membersv1.MemberStatus_MEMBER_STATUS_ERASED:
		return "erased"
	}
	return "unknown"
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
