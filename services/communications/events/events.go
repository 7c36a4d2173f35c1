// Package events holds what the communications service publishes: the
// topic, the CloudEvents types and sources, and the protobuf payloads.
package events

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// TypeMessageSent is the CloudEvents type of MessageSent.
const TypeMessageSent = "kinship.communications.v1.MessageSent"

// Topic is where a community's communications events go, keyed by member id.
func Topic(community string) string { return community + ".communications.v1" }

// Source is the CloudEvents source of a community's communications events.
func Source(community string) string { return "/communities/" + community + "/communications" }

// MessageSent is the event of m being accepted by the mail server. It
// carries no address or content.
func MessageSent(eventID string, m domain.Message) (kafka.Event, error) {
	payload, err := proto.Marshal(&communicationsv1.MessageSent{
		MessageId:      m.ID,
		Community:      m.Community,
		MemberId:       m.MemberID,
		IdempotencyKey: m.IdempotencyKey,
		Channel:        "email",
		SentAt:         timestamppb.New(m.SentAt),
	})
	if err != nil {
		return kafka.Event{}, fmt.Errorf("encode MessageSent: %w", err)
	}
	return kafka.Event{
		ID:          eventID,
		Type:        TypeMessageSent,
		Source:      Source(m.Community),
		Subject:     m.ID,
		Time:        m.SentAt,
		ContentType: kafka.ContentTypeProtobuf,
		Data:        payload,
		Topic:       Topic(m.Community),
		Key:         m.MemberID,
	}, nil
}
