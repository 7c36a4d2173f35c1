package events

import (
	"context"
	"errors"
	"fmt"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// TypeUnsubscribed is the communications service's event of a member
// leaving an e-mail category through an unsubscribe link or its
// preferences page.
const TypeUnsubscribed = "kinship.communications.v1.Unsubscribed"

// UnsubscribeTopics are the topics the unsubscribe feed reads.
func UnsubscribeTopics(community string) []string { return []string{community + ".communications.v1"} }

// UnsubscribeGroup is the consumer group of the unsubscribe feed.
const UnsubscribeGroup = "kinship-members-unsubscribes"

// Withdrawer records consent withdrawals made elsewhere.
type Withdrawer interface {
	ApplyUnsubscribe(ctx context.Context, community string, rec domain.ConsentRecord, changed func(domain.ConsentRecord) ([]kafka.Event, error)) (bool, error)
}

// UnsubscribeFeed records the communications service's unsubscribes in the
// consent ledger, so the members service stays the record of consent.
type UnsubscribeFeed struct {
	consents Withdrawer
}

// NewUnsubscribeFeed writes withdrawals to consents.
func NewUnsubscribeFeed(consents Withdrawer) *UnsubscribeFeed {
	return &UnsubscribeFeed{consents: consents}
}

// Handle records e if it is an unsubscribe; other communications events
// are ignored. Events about another community than their topic's are
// dead-lettered; events about unknown or erased members are dropped: there
// is no consent left to withdraw.
func (f *UnsubscribeFeed) Handle(ctx context.Context, e kafka.Event) error {
	if e.Type != TypeUnsubscribed {
		return nil
	}
	u, err := decodeUnsubscribed(e)
	if err != nil {
		return kafka.Permanent(err)
	}
	if err := sameCommunity(e, u.GetCommunity()); err != nil {
		return err
	}
	rec, err := domain.NewConsentRecord(u.GetMemberId(), u.GetPurpose(), false, "unsubscribe:"+u.GetSource(), "unsubscribe", u.GetOccurredAt().AsTime())
	if err != nil {
		return kafka.Permanent(fmt.Errorf("event %s: %w", e.ID, err))
	}
	_, err = f.consents.ApplyUnsubscribe(ctx, u.GetCommunity(), rec, func(r domain.ConsentRecord) ([]kafka.Event, error) {
		ev, err := Factory{}.ConsentChanged(u.GetCommunity(), r)
		return []kafka.Event{ev}, err
	})
	switch {
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrErased), errors.Is(err, domain.ErrUnknownCommunity):
		return nil
	case err != nil:
		return err
	}
	return nil
}

func decodeUnsubscribed(e kafka.Event) (*communicationsv1.Unsubscribed, error) {
	var u communicationsv1.Unsubscribed
	if err := kafka.Decode(e, e.Type, &u); err != nil {
		return nil, err
	}
	if u.GetMemberId() == "" || u.GetCommunity() == "" || u.GetPurpose() == "" || u.GetOccurredAt() == nil {
		return nil, fmt.Errorf("decode Unsubscribed %s: member, community, purpose or time missing", e.ID)
	}
	return &u, nil
}
