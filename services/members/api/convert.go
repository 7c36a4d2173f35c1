package api

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/events"
)

func toProto(m domain.Member) *membersv1.Member {
	out := &membersv1.Member{
		Id:            m.ID,
		Community:     m.Community,
		Email:         m.Email,
		DisplayName:   m.DisplayName,
		Interests:     m.Interests,
		EmailConsent:  m.EmailConsent,
		Status:        events.StatusToProto(m.Status),
		JoinedAt:      timestamppb.New(m.JoinedAt),
		Profile:       events.ProfileToProto(m.Profile),
		Source:        events.SourceToProto(m.Source),
		Level:         m.Level,
		Score:         int32(m.Score),
		EmailVerified: m.EmailVerified,
		PendingEmail:  m.PendingEmail,
	}
	if !m.LastActiveAt.IsZero() {
		out.LastActiveAt = timestamppb.New(m.LastActiveAt)
	}
	for _, r := range m.Roles {
		out.Roles = append(out.Roles, &membersv1.RoleAssignment{Role: r.Role, Tier: r.Tier, AssignedAt: timestamppb.New(r.AssignedAt)})
	}
	return out
}

func protoJSON(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
}

func keyToProto(k domain.APIKey) *membersv1.APIKey {
	out := &membersv1.APIKey{
		Id: k.ID, Community: k.Community, Name: k.Name, Prefix: k.Prefix,
		CreatedAt: timestamppb.New(k.CreatedAt), CreatedBy: k.CreatedBy,
	}
	for _, r := range k.Roles {
		out.Roles = append(out.Roles, string(r))
	}
	if !k.LastUsedAt.IsZero() {
		out.LastUsedAt = timestamppb.New(k.LastUsedAt)
	}
	if k.Revoked() {
		out.RevokedAt = timestamppb.New(k.RevokedAt)
	}
	return out
}

func auditToProto(e audit.Entry) *membersv1.AuditEntry {
	return &membersv1.AuditEntry{
		Id: e.ID, Community: e.Community, OccurredAt: timestamppb.New(e.OccurredAt), ActorKind: e.ActorKind,
		ActorId: e.ActorID, Action: e.Action, TargetType: e.TargetType, TargetId: e.TargetID,
	}
}
