// Package events holds what the members service publishes: the topic, the
// CloudEvents types and sources, and the protobuf payloads. Consumers of
// members.v1 use it to decode what they read.
package events

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// CloudEvents types of members.v1.
const (
	TypeMemberJoined     = "kinship.members.v1.MemberJoined"
	TypeProfileUpdated   = "kinship.members.v1.ProfileUpdated"
	TypeConsentChanged   = "kinship.members.v1.ConsentChanged"
	TypeActivityRecorded = "kinship.members.v1.ActivityRecorded"
	TypeLevelChanged     = "kinship.members.v1.LevelChanged"
	TypeRoleChanged      = "kinship.members.v1.RoleChanged"
	TypeStatusChanged    = "kinship.members.v1.StatusChanged"
	TypeMemberLeft       = "kinship.members.v1.MemberLeft"
	TypeMemberMerged     = "kinship.members.v1.MemberMerged"
	TypeMemberErased     = "kinship.members.v1.MemberErased"
	TypeMemberOnboarded  = "kinship.members.v1.MemberOnboarded"

	TypeEmailConfirmationRequested = "kinship.members.v1.EmailConfirmationRequested"
	TypeEmailConfirmed             = "kinship.members.v1.EmailConfirmed"
	TypeJoinRepeated               = "kinship.members.v1.JoinRepeated"
)

// Topic is where a community's member events go, keyed by member id.
func Topic(community string) string { return community + ".members.v1" }

// Source is the CloudEvents source of a community's member events.
func Source(community string) string { return "/communities/" + community + "/members" }

// Factory builds the members service's events, each with a fresh id.
type Factory struct{}

func (Factory) event(community, memberID, typ string, at time.Time, payload proto.Message) (kafka.Event, error) {
	return kafka.NewProto(kafka.Event{Type: typ, Source: Source(community), Subject: memberID, Time: at,
		Topic: Topic(community), Key: memberID}, payload)
}

// MemberJoined is the event of m joining its community.
func (f Factory) MemberJoined(m domain.Member) (kafka.Event, error) {
	return f.event(m.Community, m.ID, TypeMemberJoined, m.JoinedAt, &membersv1.MemberJoined{
		MemberId: m.ID, Community: m.Community, Email: m.Email, DisplayName: m.DisplayName, Interests: m.Interests,
		EmailConsent: m.EmailConsent, JoinedAt: timestamppb.New(m.JoinedAt), Profile: ProfileToProto(m.Profile), Source: SourceToProto(m.Source),
		EmailVerified: m.EmailVerified,
	})
}

// EmailConfirmationRequested asks the communications service to send m a
// confirmation link for email (reason domain.ConfirmJoin or
// domain.ConfirmEmailChange).
func (f Factory) EmailConfirmationRequested(m domain.Member, email, reason string, at time.Time) (kafka.Event, error) {
	return f.event(m.Community, m.ID, TypeEmailConfirmationRequested, at, &membersv1.EmailConfirmationRequested{
		MemberId: m.ID, Community: m.Community, Email: email, Reason: reason, RequestedAt: timestamppb.New(at),
	})
}

// EmailConfirmed is m proving they hold email (or an import vouching for
// it).
func (f Factory) EmailConfirmed(m domain.Member, email, reason string, at time.Time) (kafka.Event, error) {
	return f.event(m.Community, m.ID, TypeEmailConfirmed, at, &membersv1.EmailConfirmed{
		MemberId: m.ID, Community: m.Community, Email: email, Reason: reason, ConfirmedAt: timestamppb.New(at),
	})
}

// JoinRepeated is someone asking to join with the address of member
// memberID; it names no one else.
func (f Factory) JoinRepeated(community, memberID string, at time.Time) (kafka.Event, error) {
	return f.event(community, memberID, TypeJoinRepeated, at, &membersv1.JoinRepeated{
		MemberId: memberID, Community: community, OccurredAt: timestamppb.New(at),
	})
}

// ProfileUpdated carries m's new profile and what changed.
func (f Factory) ProfileUpdated(m domain.Member, changed []string) (kafka.Event, error) {
	return f.event(m.Community, m.ID, TypeProfileUpdated, time.Now(), &membersv1.ProfileUpdated{
		MemberId: m.ID, Community: m.Community, Changed: changed, Profile: ProfileToProto(m.Profile),
	})
}

// ConsentChanged is a change of the current consent for a purpose.
func (f Factory) ConsentChanged(community string, r domain.ConsentRecord) (kafka.Event, error) {
	return f.event(community, r.MemberID, TypeConsentChanged, r.OccurredAt, &membersv1.ConsentChanged{
		MemberId: r.MemberID, Community: community, Purpose: r.Purpose, Granted: r.Granted,
		OccurredAt: timestamppb.New(r.OccurredAt), Source: r.Source, PolicyVersion: r.PolicyVersion,
	})
}

// ActivityRecorded is a new activity in the ledger.
func (f Factory) ActivityRecorded(a domain.Activity) (kafka.Event, error) {
	return f.event(a.Community, a.MemberID, TypeActivityRecorded, a.OccurredAt, &membersv1.ActivityRecorded{
		MemberId: a.MemberID, Community: a.Community, ActivityId: a.ID, Type: a.Type,
		OccurredAt: timestamppb.New(a.OccurredAt), SourceEventId: a.SourceEventID, Properties: a.Properties, Source: a.Source,
	})
}

// MemberOnboarded is a member finishing their onboarding journey, told by
// the onboarded activity the journey recorded.
func (f Factory) MemberOnboarded(a domain.Activity) (kafka.Event, error) {
	return f.event(a.Community, a.MemberID, TypeMemberOnboarded, a.OccurredAt, &membersv1.MemberOnboarded{
		MemberId: a.MemberID, Community: a.Community, OnboardedAt: timestamppb.New(a.OccurredAt), JourneyId: a.SourceEventID,
	})
}

// LevelChanged is a member's level moving.
func (f Factory) LevelChanged(community string, c domain.LevelChange) (kafka.Event, error) {
	return f.event(community, c.MemberID, TypeLevelChanged, time.Now(), &membersv1.LevelChanged{
		MemberId: c.MemberID, Community: community, FromLevel: c.From, ToLevel: c.To, Score: int32(c.Score),
	})
}

// RoleChanged is a role assigned or revoked.
func (f Factory) RoleChanged(community, memberID, role, tier string, assigned bool) (kafka.Event, error) {
	return f.event(community, memberID, TypeRoleChanged, time.Now(), &membersv1.RoleChanged{
		MemberId: memberID, Community: community, Role: role, Tier: tier, Assigned: assigned,
	})
}

// StatusChanged is a move along the lifecycle.
func (f Factory) StatusChanged(community, memberID string, from, to domain.Status) (kafka.Event, error) {
	return f.event(community, memberID, TypeStatusChanged, time.Now(), &membersv1.StatusChanged{
		MemberId: memberID, Community: community, FromStatus: StatusToProto(from), ToStatus: StatusToProto(to),
	})
}

// MemberLeft is a membership ending.
func (f Factory) MemberLeft(community, memberID string, at time.Time) (kafka.Event, error) {
	return f.event(community, memberID, TypeMemberLeft, at, &membersv1.MemberLeft{
		MemberId: memberID, Community: community, LeftAt: timestamppb.New(at),
	})
}

// MemberMerged is duplicate folded into primary; keyed by the primary.
func (f Factory) MemberMerged(community, primaryID, duplicateID string) (kafka.Event, error) {
	return f.event(community, primaryID, TypeMemberMerged, time.Now(), &membersv1.MemberMerged{
		PrimaryId: primaryID, DuplicateId: duplicateID, Community: community,
	})
}

// MemberErased tells every service to remove its copies of the member.
func (f Factory) MemberErased(community, memberID string, at time.Time) (kafka.Event, error) {
	return f.event(community, memberID, TypeMemberErased, at, &membersv1.MemberErased{
		MemberId: memberID, Community: community, ErasedAt: timestamppb.New(at),
	})
}

// DecodeMemberJoined reads a MemberJoined event's payload.
func DecodeMemberJoined(e kafka.Event) (*membersv1.MemberJoined, error) {
	var m membersv1.MemberJoined
	if err := kafka.Decode(e, TypeMemberJoined, &m); err != nil {
		return nil, err
	}
	if m.GetMemberId() == "" || m.GetCommunity() == "" {
		return nil, fmt.Errorf("decode MemberJoined %s: member id or community missing", e.ID)
	}
	return &m, nil
}

// DecodeEmailConfirmationRequested reads an EmailConfirmationRequested
// event's payload.
func DecodeEmailConfirmationRequested(e kafka.Event) (*membersv1.EmailConfirmationRequested, error) {
	var m membersv1.EmailConfirmationRequested
	if err := kafka.Decode(e, TypeEmailConfirmationRequested, &m); err != nil {
		return nil, err
	}
	if m.GetMemberId() == "" || m.GetCommunity() == "" || m.GetEmail() == "" || m.GetReason() == "" {
		return nil, fmt.Errorf("decode EmailConfirmationRequested %s: member id, community, address or reason missing", e.ID)
	}
	return &m, nil
}

// DecodeEmailConfirmed reads an EmailConfirmed event's payload.
func DecodeEmailConfirmed(e kafka.Event) (*membersv1.EmailConfirmed, error) {
	var m membersv1.EmailConfirmed
	if err := kafka.Decode(e, TypeEmailConfirmed, &m); err != nil {
		return nil, err
	}
	if m.GetMemberId() == "" || m.GetCommunity() == "" {
		return nil, fmt.Errorf("decode EmailConfirmed %s: member id or community missing", e.ID)
	}
	return &m, nil
}

// DecodeJoinRepeated reads a JoinRepeated event's payload.
func DecodeJoinRepeated(e kafka.Event) (*membersv1.JoinRepeated, error) {
	var m membersv1.JoinRepeated
	if err := kafka.Decode(e, TypeJoinRepeated, &m); err != nil {
		return nil, err
	}
	if m.GetMemberId() == "" || m.GetCommunity() == "" {
		return nil, fmt.Errorf("decode JoinRepeated %s: member id or community missing", e.ID)
	}
	return &m, nil
}
