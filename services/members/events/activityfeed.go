package events

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
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
	TypeEventCompleted       = "kinship.events.v1.EventCompleted"
	TypeFeedbackGiven        = "kinship.events.v1.FeedbackGiven"
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
	RecordActivity(ctx context.Context, a domain.Activity, settings domain.Settings, ev store.LevelEvents, audit store.Auditor) (bool, domain.Engagement, error)
}

// ActivityFeed turns other services' events into activities. The event's
// CloudEvents id is the activity's source id, so a redelivered event counts
// once.
type ActivityFeed struct {
	ledger Ledger
}

// NewActivityFeed writes activities to ledger.
func NewActivityFeed(ledger Ledger) *ActivityFeed { return &ActivityFeed{ledger: ledger} }

// Handle records the activities e stands for, if any. Undecodable
// events, events about another community than their topic's and unknown
// members are permanent failures (dead-lettered); events about an erased
// member are dropped.
func (f *ActivityFeed) Handle(ctx context.Context, e kafka.Event) error {
	community, acts, err := activitiesOf(e)
	if err != nil {
		return kafka.Permanent(err)
	}
	if len(acts) == 0 {
		return nil // not an activity
	}
	if err := sameCommunity(e, community); err != nil {
		return err
	}
	settings, err := f.ledger.Settings(ctx, community)
	if errors.Is(err, domain.ErrUnknownCommunity) {
		return kafka.Permanent(err)
	}
	if err != nil {
		return err
	}
	for _, act := range acts {
		if !settings.Counts(act.Type, "") {
			continue // the community does not count this activity
		}
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		act.ID, act.Community = id.String(), community
		a, err := domain.NewActivity(act, settings, time.Now())
		if err != nil {
			return kafka.Permanent(fmt.Errorf("event %s: %w", e.ID, err))
		}
		// Activities read from other services' events were audited there.
		_, _, err = f.ledger.RecordActivity(ctx, a, settings, Factory{}, nil)
		switch {
		case errors.Is(err, domain.ErrErased):
			continue
		case errors.Is(err, domain.ErrNotFound) && len(acts) > 1:
			continue // one host of several who is no member (any more): the others still count
		case errors.Is(err, domain.ErrNotFound):
			return kafka.Permanent(fmt.Errorf("event %s names member %s, who is not in %s", e.ID, act.MemberID, community))
		case err != nil:
			return err
		}
	}
	return nil
}

// activitiesOf reads the community of e and the activities it proves,
// each with its member, type, time, properties and the source event id
// that makes it count once: the CloudEvents id, or — where one event
// proves one activity of several people, or a later event proves the same
// one again — a key derived from what it is about.
func activitiesOf(e kafka.Event) (string, []domain.Activity, error) {
	var msg interface {
		proto.Message
		GetCommunity() string
		GetMemberId() string
	}
	var when func() *timestamppb.Timestamp
	var typ string
	switch e.Type {
	case TypeContributionRecorded:
		// A contribution is a member's activity only when a member made it.
		c, err := partnerevents.DecodeContributionRecorded(e)
		if err != nil {
			return "", nil, err
		}
		if c.GetMemberId() == "" {
			return c.GetCommunity(), nil, nil
		}
		return c.GetCommunity(), []domain.Activity{{MemberID: c.GetMemberId(), Type: domain.ActivityPartnerContribution,
			OccurredAt: c.GetOccurredAt().AsTime(), SourceEventID: e.ID}}, nil
	case TypeEventCompleted:
		return hostedEvent(e)
	case TypeFeedbackGiven:
		m := &eventsv1.FeedbackGiven{}
		if err := kafka.Decode(e, e.Type, m); err != nil {
			return "", nil, err
		}
		if m.GetCommunity() == "" || m.GetMemberId() == "" || m.GetOccurrenceId() == "" || m.GetGivenAt() == nil {
			return "", nil, fmt.Errorf("event %s lacks community, member, occurrence or time", e.ID)
		}
		// Rating an occurrence again replaces the rating: it counts once.
		return m.GetCommunity(), []domain.Activity{{MemberID: m.GetMemberId(), Type: domain.ActivityGaveFeedback, OccurredAt: m.GetGivenAt().AsTime(),
			SourceEventID: "feedback/" + m.GetOccurrenceId() + "/" + m.GetMemberId(),
			Properties:    map[string]string{"event_id": m.GetEventId(), "occurrence_id": m.GetOccurrenceId()}}}, nil
	case TypeCheckedIn:
		m := &eventsv1.CheckedIn{}
		msg, when, typ = m, m.GetCheckedInAt, domain.ActivityAttendedEvent
	case TypeSeatTaken:
		m := &eventsv1.SeatTaken{}
		msg, when, typ = m, m.GetTakenAt, domain.ActivityRSVP
	default:
		return "", nil, nil
	}
	if err := kafka.Decode(e, e.Type, msg); err != nil {
		return "", nil, err
	}
	if msg.GetCommunity() == "" || msg.GetMemberId() == "" || when() == nil {
		return "", nil, fmt.Errorf("event %s lacks community, member or time", e.ID)
	}
	return msg.GetCommunity(), []domain.Activity{{MemberID: msg.GetMemberId(), Type: typ, OccurredAt: when().AsTime(), SourceEventID: e.ID}}, nil
}

// hostedEvent gives each host of a completed event a hosted_event, with
// the attendance as its properties; each host's counts once per event.
func hostedEvent(e kafka.Event) (string, []domain.Activity, error) {
	c := &eventsv1.EventCompleted{}
	if err := kafka.Decode(e, e.Type, c); err != nil {
		return "", nil, err
	}
	if c.GetCommunity() == "" || c.GetEventId() == "" || c.GetCompletedAt() == nil {
		return "", nil, fmt.Errorf("event %s lacks community, event or completion time", e.ID)
	}
	props := map[string]string{
		"event_id":    c.GetEventId(),
		"attended":    strconv.Itoa(int(c.GetAttended())),
		"seats_taken": strconv.Itoa(int(c.GetSeatsTaken())),
		"no_shows":    strconv.Itoa(int(c.GetNoShows())),
		"occurrences": strconv.Itoa(int(c.GetOccurrences())),
	}
	var out []domain.Activity
	for _, host := range c.GetHostIds() {
		out = append(out, domain.Activity{MemberID: host, Type: domain.ActivityHostedEvent, OccurredAt: c.GetCompletedAt().AsTime(),
			SourceEventID: "hosted/" + c.GetEventId() + "/" + host, Properties: maps.Clone(props)})
	}
	return c.GetCommunity(), out, nil
}

// sameCommunity refuses an event whose payload names another community
// than its topic: a service writes only its own communities' topics, so
// the topic, not the payload, says whose event it is.
func sameCommunity(e kafka.Event, community string) error {
	if topicCommunity, _, _ := strings.Cut(e.Topic, "."); topicCommunity != community {
		return kafka.Permanent(fmt.Errorf("event %s on %s is about community %q", e.ID, e.Topic, community))
	}
	return nil
}

var _ Ledger = (*store.Store)(nil)
