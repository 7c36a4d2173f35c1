package events

import (
	"context"
	"fmt"
	"log/slog"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/events/domain"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// ErasureGroup is the consumer group reading members.v1 for erasures.
const ErasureGroup = "kinship-events-erasure"

// ErasureTopics are the topics the erasure consumer reads for a community.
func ErasureTopics(community string) []string { return []string{memberevents.Topic(community)} }

// Eraser removes a member's personal data once per event id.
type Eraser interface {
	EraseMember(ctx context.Context, eventID, community, memberID string) (bool, error)
}

// Erasure turns MemberErased into the removal of the member's personal
// data here. The inbox makes a redelivered event a no-op.
type Erasure struct {
	eraser      Eraser
	communities map[string]bool
	logger      *slog.Logger
}

// NewErasure erases through eraser for the communities served.
func NewErasure(eraser Eraser, communities []string, logger *slog.Logger) *Erasure {
	served := map[string]bool{}
	for _, c := range communities {
		served[c] = true
	}
	return &Erasure{eraser: eraser, communities: served, logger: logger}
}

// Handle erases the member a MemberErased event names; other members.v1
// events are skipped. Undecodable events and communities not served here
// are permanent failures (dead-lettered).
func (h *Erasure) Handle(ctx context.Context, e kafka.Event) error {
	if e.Type != memberevents.TypeMemberErased {
		return nil
	}
	var m membersv1.MemberErased
	if err := kafka.Decode(e, memberevents.TypeMemberErased, &m); err != nil {
		return kafka.Permanent(err)
	}
	if m.GetMemberId() == "" || m.GetCommunity() == "" {
		return kafka.Permanent(fmt.Errorf("event %s lacks member id or community", e.ID))
	}
	if _, ferr := domain.ValidateID("member_id", m.GetMemberId()); ferr != nil {
		return kafka.Permanent(fmt.Errorf("event %s: %w", e.ID, ferr))
	}
	if !h.communities[m.GetCommunity()] {
		return kafka.Permanent(fmt.Errorf("event %s is about community %s, which is not served here", e.ID, m.GetCommunity()))
	}
	ran, err := h.eraser.EraseMember(ctx, e.ID, m.GetCommunity(), m.GetMemberId())
	if err != nil {
		return fmt.Errorf("erase member %s: %w", m.GetMemberId(), err)
	}
	if ran {
		h.logger.InfoContext(ctx, "member erased from events", "community", m.GetCommunity(), "member_id", m.GetMemberId(), "event_id", e.ID)
	}
	return nil
}
