package chaos

import (
	"context"

	"google.golang.org/protobuf/proto"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	commsevents "github.com/kinshiphq/kinship/services/communications/events"
)

// messageEvent is one event about a message on communications.v1.
type messageEvent struct {
	typ, message string
	announcement bool // MessageSent: the message belongs to an announcement
}

// messageOrder counts the events of one key (a member) that cannot follow
// the ones before them about the same message: an announcement's message
// is queued (MessageQueued) before it is sent, failed or suppressed; a
// message is never queued after it ended; a bounce follows its sending.
// Transactional messages publish no MessageQueued.
func messageOrder(evs []messageEvent) int {
	disorder := 0
	state := map[string]string{} // message id -> queued, sent, ended
	for _, e := range evs {
		st := state[e.message]
		switch e.typ {
		case commsevents.TypeMessageQueued:
			if st != "" {
				disorder++
			}
			state[e.message] = "queued"
		case commsevents.TypeMessageSent:
			if e.announcement && st != "queued" {
				disorder++
			}
			state[e.message] = "sent"
		case commsevents.TypeMessageFailed, commsevents.TypeMessageSuppressed:
			state[e.message] = "ended"
		case commsevents.TypeMessageBounced:
			if st != "sent" {
				disorder++
			}
		}
	}
	return disorder
}

// commsEventFigures reads <community>.communications.v1 and counts the
// events out of order per key (see messageOrder) and the repeats of an
// event id.
func commsEventFigures(ctx context.Context, broker string) (disorder, dups int, err error) {
	events, dups, err := distinctEvents(ctx, broker, commsevents.Topic(community))
	if err != nil {
		return 0, 0, err
	}
	byKey := map[string][]messageEvent{}
	for _, e := range events {
		var p interface {
			proto.Message
			GetMessageId() string
		}
		switch e.Type {
		case commsevents.TypeMessageQueued:
			p = &communicationsv1.MessageQueued{}
		case commsevents.TypeMessageSent:
			p = &communicationsv1.MessageSent{}
		case commsevents.TypeMessageFailed:
			p = &communicationsv1.MessageFailed{}
		case commsevents.TypeMessageBounced:
			p = &communicationsv1.MessageBounced{}
		case commsevents.TypeMessageSuppressed:
			p = &communicationsv1.MessageSuppressed{}
		default:
			continue
		}
		if err := kafka.Decode(e, e.Type, p); err != nil {
			return 0, 0, err
		}
		me := messageEvent{typ: e.Type, message: p.GetMessageId()}
		if sent, isSent := p.(*communicationsv1.MessageSent); isSent {
			me.announcement = sent.GetAnnouncementId() != ""
		}
		byKey[e.Key] = append(byKey[e.Key], me)
	}
	for _, evs := range byKey {
		disorder += messageOrder(evs)
	}
	return disorder, dups, nil
}
