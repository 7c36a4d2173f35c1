// Package events holds what the communications service publishes — the
// topic, CloudEvents types and protobuf payloads — and its consumer of
// members.v1 that keeps the recipients projection.
package events

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// CloudEvents types of communications.v1.
const (
	TypeMessageQueued     = "kinship.communications.v1.MessageQueued"
	TypeMessageSent       = "kinship.communications.v1.MessageSent"
	TypeMessageFailed     = "kinship.communications.v1.MessageFailed"
	TypeMessageBounced    = "kinship.communications.v1.MessageBounced"
	TypeMessageSuppressed = "kinship.communications.v1.MessageSuppressed"
	TypeUnsubscribed      = "kinship.communications.v1.Unsubscribed"
)

// Topic is where a community's communications events go, keyed by member id.
func Topic(community string) string { return community + ".communications.v1" }

// Source is the CloudEvents source of a community's communications events.
func Source(community string) string { return "/communities/" + community + "/communications" }

// Factory builds the service's events, each with a fresh id. They carry
// ids, never addresses or content.
type Factory struct{}

func (Factory) event(community, key, typ string, at time.Time, payload proto.Message) (kafka.Event, error) {
	return kafka.NewProto(kafka.Event{Type: typ, Source: Source(community), Subject: key, Time: at,
		Topic: Topic(community), Key: key}, payload)
}

func key(m domain.Message) string {
	if m.MemberID != "" {
		return m.MemberID
	}
	return m.To // a webhook's id
}

// MessageQueued is a message waiting to be sent.
func (f Factory) MessageQueued(m domain.Message) (kafka.Event, error) {
	return f.event(m.Community, key(m), TypeMessageQueued, m.CreatedAt, &communicationsv1.MessageQueued{
		MessageId: m.ID, Community: m.Community, MemberId: m.MemberID, AnnouncementId: m.AnnouncementID, DueAt: timestamppb.New(m.DueAt)})
}

// MessageSent is the event of m being accepted by the mail server or the
// webhook receiver.
func (f Factory) MessageSent(m domain.Message) (kafka.Event, error) {
	return f.event(m.Community, key(m), TypeMessageSent, m.SentAt, &communicationsv1.MessageSent{
		MessageId: m.ID, Community: m.Community, MemberId: m.MemberID, IdempotencyKey: m.IdempotencyKey,
		Channel: string(m.Channel), SentAt: timestamppb.New(m.SentAt), AnnouncementId: m.AnnouncementID})
}

// MessageFailed is a message failing for good.
func (f Factory) MessageFailed(m domain.Message, reason string) (kafka.Event, error) {
	return f.event(m.Community, key(m), TypeMessageFailed, time.Now(), &communicationsv1.MessageFailed{
		MessageId: m.ID, Community: m.Community, MemberId: m.MemberID, Reason: reason, Attempts: int32(m.Attempts)})
}

// MessageBounced is a sent message coming back.
func (f Factory) MessageBounced(m domain.Message, hard bool) (kafka.Event, error) {
	return f.event(m.Community, key(m), TypeMessageBounced, time.Now(), &communicationsv1.MessageBounced{
		MessageId: m.ID, Community: m.Community, MemberId: m.MemberID, Hard: hard})
}

// MessageSuppressed is a message not sent, and why.
func (f Factory) MessageSuppressed(m domain.Message, reason string) (kafka.Event, error) {
	return f.event(m.Community, key(m), TypeMessageSuppressed, time.Now(), &communicationsv1.MessageSuppressed{
		MessageId: m.ID, Community: m.Community, MemberId: m.MemberID, Reason: reason})
}

// Unsubscribed is a member leaving an e-mail category.
func (f Factory) Unsubscribed(community, memberID, purpose, source string, at time.Time) (kafka.Event, error) {
	return f.event(community, memberID, TypeUnsubscribed, at, &communicationsv1.Unsubscribed{
		MemberId: memberID, Community: community, Purpose: purpose, OccurredAt: timestamppb.New(at), Source: source})
}
