package api

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

func toProto(m domain.Message) *communicationsv1.Message {
	out := &communicationsv1.Message{
		Id:             m.ID,
		Community:      m.Community,
		IdempotencyKey: m.IdempotencyKey,
		MemberId:       m.MemberID,
		Subject:        m.Subject,
		Status:         statusToProto(m.Status),
		FailureReason:  m.FailureReason,
		CreatedAt:      timestamppb.New(m.CreatedAt),
	}
	if !m.SentAt.IsZero() {
		out.SentAt = timestamppb.New(m.SentAt)
	}
	return out
}

func statusToProto(s domain.Status) communicationsv1.MessageStatus {
	switch s {
	case domain.StatusPending:
		return communicationsv1.MessageStatus_MESSAGE_STATUS_PENDING
	case domain.StatusSent:
		return communicationsv1.MessageStatus_MESSAGE_STATUS_SENT
	case domain.StatusFailed:
		return communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED
	}
	return communicationsv1.MessageStatus_MESSAGE_STATUS_UNSPECIFIED
}
