package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/store"
	partnerevents "github.com/kinshiphq/kinship/services/partners/events"
)

// CloudEvents types of events.v1 the activity feed reads.
const (
	TypeSeatTaken            = "kinship.events.v1.SeatTaken"
	TypeCheckedIn            = "kinship.events.v1.CheckedIn"
	TypeContributionRecorded = partnerevents.TypeContributionRecorded
)

// ActivityTopics are the other services' topics feeding the activity
// ledger of a community.
func ActivityTopics(community string) []string {
	return []string{community + ".events.v1", partnerevents.Topic(community)}
}

// ActivityGroup is the consumer group of the activity feed.
const ActivityGroup = "kinship-members-activity"

// Ledger is what the activity feed writes to.
type Ledger interface {
	Settings(ctx context.Context, community string) (domain.Settings, error)
	RecordActivity(ctx context.Context, a domain.Activity, settings domain.Settings, ev store.LevelEvents) (bool, domain.Engagement, error)
}

// ActivityFeed turns other services' events into activities. The event's
// CloudEvents id is the activity's source id, so a redelivered event counts
// once.
type ActivityFeed struct {
	ledger Ledger
}

// NewActivityFeed writes activities to ledger.
func NewActivityFeed(ledger Ledger) *ActivityFeed { return &ActivityFeed{ledger: ledger} }

// Handle records the activity e stands for, if any. Undecodable events and
// unknown members are permanent failures (dead-lettered); events about an
// erased member are dropped.
func (f *ActivityFeed) Handle(ctx context.Context, e kafka.Event) error {
	community, memberID, typ, at, err := activityOf(e)
	if err != nil {
		return kafka.Permanent(err)
	}
	if typ == "" {
		return nil // not an activity
	}
	settings, err := f.ledger.Settings(ctx, community)
	if errors.Is(err, domain.ErrUnknownCommunity) {
		return kafka.Permanent(err)
	}
	if err != nil {
		return err
	}
	if _, weighed := settings.Weights[typ]; !weighed {
		return nil // the community does not count this activity
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	a, err := domain.NewActivity(domain.Activity{ID: id.String(), Community: community, MemberID: memberID, Type: typ,
		OccurredAt: at, SourceEventID: e.ID}, settings, time.Now())
	if err != nil {
		return kafka.Permanent(fmt.Errorf("event %s: %w", e.ID, err))
	}
	_, _, err = f.ledger.RecordActivity(ctx, a, settings, Factory{})
	switch {
	case errors.Is(err, domain.ErrErased):
		return nil
	case errors.Is(err, domain.ErrNotFound):
		return kafka.Permanent(fmt.Errorf("event %s names member %s, who is not in %s", e.ID, memberID, community))
	}
	return err
}

// activityOf reads the community, member, activity type and time of e;
// an empty type means e is no activity.
func activityOf(e kafka.Event) (community, memberID, typ string, at time.Time, err error) {
	var msg interface {
		proto.Message
		GetCommunity() string
		GetMemberId() string
	}
	var when func() *timestamppb.Timestamp
	switch e.Type {
	case TypeContributionRecorded:
		// A contribution is a member's activity only when a member made it.
		c, err := partnerevents.DecodeContributionRecorded(e)
		if err != nil {
			return "", "", "", time.Time{}, err
		}
		if c.GetMemberId() == "" {
			return "", "", "", time.Time{}, nil
		}
		return c.GetCommunity(), c.GetMemberId(), domain.ActivityPartnerContribution, c.GetOccurredAt().AsTime(), nil
	case TypeCheckedIn:
		m := &eventsv1.CheckedIn{}
		msg, when, typ = m, m.GetCheckedInAt, domain.ActivityAttendedEvent
	case TypeSeatTaken:
		m := &eventsv1.SeatTaken{}
		msg, when, typ = m, m.GetTakenAt, domain.ActivityRSVP
	default:
		return "", "", "", time.Time{}, nil
	}
	if err := kafka.Decode(e, e.Type, msg); err != nil {
		return "", "", "", time.Time{}, err
	}
	if msg.GetCommunity() == "" || msg.GetMemberId() == "" || when() == nil {
		return "", "", "", time.Time{}, fmt.Errorf("event %s lacks community, member or time", e.ID)
	}
	return msg.GetCommunity(), msg.GetMemberId(), typ, when().AsTime(), nil
}

var _ Ledger = (*store.Store)(nil)
