// Package events holds what the members service publishes: the topic, the
// CloudEvents types and sources, and the protobuf payloads. Consumers of
// members.v1 use it to decode what they read.
package events

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// TypeMemberJoined is the CloudEvents type of MemberJoined.
const TypeMemberJoined = "kinship.members.v1.MemberJoined"

// Topic is where a community's member events go, keyed by member id.
func Topic(community string) string { return community + ".members.v1" }

// Source is the CloudEvents source of a community's member events.
func Source(community string) string { return "/communities/" + community + "/members" }

// MemberJoined is the event of m joining its community.
func MemberJoined(eventID string, m domain.Member) (kafka.Event, error) {
	payload, err := proto.Marshal(&membersv1.MemberJoined{
		MemberId:     m.ID,
		Community:    m.Community,
		Email:        m.Email,
		DisplayName:  m.DisplayName,
		Interests:    m.Interests,
		EmailConsent: m.EmailConsent,
		JoinedAt:     timestamppb.New(m.JoinedAt),
	})
	if err != nil {
		return kafka.Event{}, fmt.Errorf("encode MemberJoined: %w", err)
	}
	return kafka.Event{
		ID:          eventID,
		Type:        TypeMemberJoined,
		Source:      Source(m.Community),
		Subject:     m.ID,
		Time:        m.JoinedAt,
		ContentType: kafka.ContentTypeProtobuf,
		Data:        payload,
		Topic:       Topic(m.Community),
		Key:         m.ID,
	}, nil
}

// DecodeMemberJoined reads a MemberJoined event's payload.
func DecodeMemberJoined(e kafka.Event) (*membersv1.MemberJoined, error) {
	if e.Type != TypeMemberJoined {
		return nil, fmt.Errorf("event %s is %s, not %s", e.ID, e.Type, TypeMemberJoined)
	}
	if e.ContentType != kafka.ContentTypeProtobuf {
		return nil, fmt.Errorf("event %s has content type %q, want %s", e.ID, e.ContentType, kafka.ContentTypeProtobuf)
	}
	var m membersv1.MemberJoined
	if err := proto.Unmarshal(e.Data, &m); err != nil {
		return nil, fmt.Errorf("decode MemberJoined %s: %w", e.ID, err)
	}
	if m.GetMemberId() == "" || m.GetCommunity() == "" {
		return nil, fmt.Errorf("decode MemberJoined %s: member id or community missing", e.ID)
	}
	return &m, nil
}
