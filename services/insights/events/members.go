package events

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// memberTypes are the members.v1 events counted.
var memberTypes = types(&membersv1.MemberJoined{}, &membersv1.ProfileUpdated{}, &membersv1.ActivityRecorded{}, &membersv1.LevelChanged{},
	&membersv1.RoleChanged{}, &membersv1.StatusChanged{}, &membersv1.MemberLeft{}, &membersv1.MemberMerged{}, &membersv1.MemberErased{},
	&membersv1.MemberOnboarded{})

// members turns a members.v1 event into its change.
func (p *Projection) members(e kafka.Event, community string) (change, error) {
	msg, err := payload(e, memberTypes)
	if err != nil {
		return nil, err
	}
	if err := decode(e, community, msg); err != nil {
		return nil, err
	}
	update := func(id string, fn func(m *domain.Member) bool) (change, error) {
		if id == "" {
			return nil, fmt.Errorf("event %s names no member", e.ID)
		}
		return func(ctx context.Context, tx *sql.Tx) error {
			return p.store.UpdateMember(ctx, tx, community, id, func(m *domain.Member) (bool, error) { return fn(m), nil })
		}, nil
	}
	t := at(e)
	switch m := msg.(type) {
	case *membersv1.MemberJoined:
		joined := timeOr(m.GetJoinedAt(), t)
		pr := m.GetProfile()
		interests := m.GetInterests()
		if len(pr.GetInterests()) > 0 {
			interests = pr.GetInterests()
		}
		id := m.GetMemberId()
		if id == "" {
			return nil, fmt.Errorf("event %s names no member", e.ID)
		}
		return func(ctx context.Context, tx *sql.Tx) error {
			return p.store.JoinMember(ctx, tx, community, id, func(mm *domain.Member) (bool, error) {
				mm.JoinedAt = domain.Earliest(mm.JoinedAt, joined)
				profile(mm, joined, pr.GetLocation().GetCountryCode(), interests,
					domain.ProfileCompleteFor(pr.GetTimeZone(), pr.GetLocation().GetCity(), pr.GetLocation().GetCountryCode(), interests))
				return true, nil
			})
		}, nil
	case *membersv1.ProfileUpdated:
		pr := m.GetProfile()
		return update(m.GetMemberId(), func(mm *domain.Member) bool {
			profile(mm, t, pr.GetLocation().GetCountryCode(), pr.GetInterests(),
				domain.ProfileCompleteFor(pr.GetTimeZone(), pr.GetLocation().GetCity(), pr.GetLocation().GetCountryCode(), pr.GetInterests()))
			return true
		})
	case *membersv1.ActivityRecorded:
		if m.GetActivityId() == "" || m.GetMemberId() == "" {
			return nil, fmt.Errorf("event %s names no activity or member", e.ID)
		}
		a := store.Activity{ID: m.GetActivityId(), MemberID: m.GetMemberId(), Type: m.GetType(), At: timeOr(m.GetOccurredAt(), t)}
		return func(ctx context.Context, tx *sql.Tx) error { return p.store.AddActivity(ctx, tx, community, a) }, nil
	case *membersv1.LevelChanged:
		return update(m.GetMemberId(), func(mm *domain.Member) bool {
			mm.SetLevel(m.GetToLevel(), t)
			return true
		})
	case *membersv1.RoleChanged:
		if m.GetMemberId() == "" || m.GetRole() == "" {
			return nil, fmt.Errorf("event %s names no member or role", e.ID)
		}
		return func(ctx context.Context, tx *sql.Tx) error {
			return p.store.UpdateRole(ctx, tx, community, m.GetMemberId(), m.GetRole(), domain.RoleChange{At: t, Assigned: m.GetAssigned(), Tier: m.GetTier()})
		}, nil
	case *membersv1.StatusChanged:
		if m.GetFromStatus() != membersv1.MemberStatus_MEMBER_STATUS_LEFT || m.GetToStatus() == membersv1.MemberStatus_MEMBER_STATUS_ERASED {
			return nil, errSkip // leaving is MemberLeft; erasure MemberErased
		}
		return update(m.GetMemberId(), func(mm *domain.Member) bool {
			mm.RejoinedAt = domain.Latest(mm.RejoinedAt, t)
			return true
		})
	case *membersv1.MemberLeft:
		left := timeOr(m.GetLeftAt(), t)
		return update(m.GetMemberId(), func(mm *domain.Member) bool {
			mm.LeftAt, mm.LeftEstimated = domain.Latest(mm.LeftAt, left), false
			return true
		})
	case *membersv1.MemberErased:
		erased := timeOr(m.GetErasedAt(), t)
		return update(m.GetMemberId(), func(mm *domain.Member) bool {
			mm.ErasedAt = domain.Earliest(mm.ErasedAt, erased)
			// The profile attributes were the member's; the counts stay.
			mm.CountryCode, mm.Interests = "", nil
			return true
		})
	case *membersv1.MemberMerged:
		if m.GetPrimaryId() == "" || m.GetDuplicateId() == "" {
			return nil, fmt.Errorf("event %s names no members", e.ID)
		}
		return func(ctx context.Context, tx *sql.Tx) error {
			return p.store.MergeMembers(ctx, tx, community, m.GetPrimaryId(), m.GetDuplicateId())
		}, nil
	case *membersv1.MemberOnboarded:
		onboarded := timeOr(m.GetOnboardedAt(), t)
		return update(m.GetMemberId(), func(mm *domain.Member) bool {
			mm.OnboardedAt = domain.Earliest(mm.OnboardedAt, onboarded)
			return true
		})
	}
	return nil, errSkip
}

// profile takes attributes dated at unless newer ones are known, and
// notes the first time the profile was complete.
func profile(m *domain.Member, at time.Time, country string, interests []string, complete bool) {
	if m.ErasedAt.IsZero() && !at.Before(m.ProfileAt) {
		m.ProfileAt, m.CountryCode = at, country
		m.Interests = slices.Compact(slices.Sorted(slices.Values(interests)))
	}
	if complete {
		m.ProfileComplete = true
		m.ProfileCompletedAt = domain.Earliest(m.ProfileCompletedAt, at)
	}
}
