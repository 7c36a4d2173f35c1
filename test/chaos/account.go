package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// figures are the accounting's result. Every figure must be zero but
// those line() prints as allowed or reported.
type figures struct {
	ops, acked, faults int
	// membersLost: acknowledged joins whose member does not exist.
	membersLost int
	// updatesLost: members whose profile holds less than their last
	// acknowledged update.
	updatesLost int
	// rsvpsLost, checkInsLost, seatsOversold, waitlistBroken: see
	// accountRSVPs.
	rsvpsLost, checkInsLost, seatsOversold, waitlistBroken int
	// eventsLost: acknowledged joins, updates, RSVPs, cancellations and
	// check-ins with no event on their topic (see rsvpEventFigures).
	eventsLost int
	// outOfOrder: events of one key out of the order written: a member's
	// profile updates on members.v1, a member's RSVP events for one
	// occurrence on events.v1 (see rsvpOrder), a message's events on
	// communications.v1 (see messageOrder).
	outOfOrder int
	// deadLetters: records on the dead-letter topics.
	deadLetters int
	// welcomesMissing: acknowledged joins whose onboarding journey sent
	// no welcome e-mail (a journey stuck or never started).
	welcomesMissing int
	// welcomesDuplicated: members who got welcome e-mails with more than
	// one Message-ID (a journey or a send run twice).
	welcomesDuplicated int
	// welcomesResent: extra copies with a Message-ID already received
	// (allowed, at most one per crash of a sender: the in-doubt policy).
	welcomesResent int
	// announcements: the announcement e-mails (see accountAnnouncements).
	announcements announceFigures
	// offers: the seat offer notices (see seatOfferMail).
	offers offerFigures
	// senderCrashes: kill -9s of communications replicas.
	senderCrashes int
	// exits: components that stopped on their own and were restarted by
	// the harness's supervisor (reported only).
	exits int
	// duplicateEvents: the same event id published again (allowed: the
	// outbox is at least once; consumers dedupe by id). Reported only.
	duplicateEvents int
}

func (f figures) line() string {
	a, o := f.announcements, f.offers
	return fmt.Sprintf("chaos: ops=%d acked=%d faults=%d members_lost=%d profile_updates_lost=%d rsvps_lost=%d seats_oversold=%d waitlist_broken=%d"+
		" checkins_lost=%d events_lost=%d events_out_of_order=%d journeys_without_welcome=%d welcomes_duplicated=%d"+
		" announcement_emails_missing=%d announcement_emails_duplicated=%d announcement_emails_unexpected=%d"+
		" seat_offer_emails_missing=%d seat_offer_emails_duplicated=%d dead_letters=%d"+
		" | allowed: welcomes_resent_same_message_id=%d announcements_resent_same_message_id=%d seat_offers_resent_same_message_id=%d (sender crashes %d)"+
		" announcement_emails_in_doubt=%d republished_events=%d process_exits_restarted=%d | announcements=%d (without barrier %d)",
		f.ops, f.acked, f.faults, f.membersLost, f.updatesLost, f.rsvpsLost, f.seatsOversold, f.waitlistBroken,
		f.checkInsLost, f.eventsLost, f.outOfOrder, f.welcomesMissing, f.welcomesDuplicated,
		a.missing, a.duplicated, a.unexpected, o.missing, o.duplicated, f.deadLetters,
		f.welcomesResent, a.resent, o.resent, f.senderCrashes, a.inDoubt, f.duplicateEvents, f.exits, a.sent, a.unbarriered)
}

func (f figures) failed() bool {
	a, o := f.announcements, f.offers
	return f.membersLost+f.updatesLost+f.rsvpsLost+f.checkInsLost+f.seatsOversold+f.waitlistBroken+f.eventsLost+f.outOfOrder+
		f.deadLetters+f.welcomesMissing+f.welcomesDuplicated+a.missing+a.duplicated+a.unexpected+o.missing+o.duplicated > 0 ||
		f.welcomesResent+a.resent+o.resent > f.senderCrashes
}

// expectation is what the load log says one member must end with.
type expectation struct {
	email     string
	lastAcked int32 // least availability the member must have
}

func expectations(log *loadLog) map[string]*expectation {
	log.mu.Lock()
	defer log.mu.Unlock()
	want := map[string]*expectation{}
	for _, e := range log.entries {
		switch {
		case e.Op == "join" && e.Outcome == ok:
			want[e.Member] = &expectation{email: e.Email}
		case e.Op == "update" && e.Outcome == ok:
			want[e.Member].lastAcked = e.Value
		}
	}
	return want
}

// account compares the services' state, their topics and the mail server
// with the load log, waiting up to settle for the outboxes to drain.
func account(ctx context.Context, c *cluster, l *loader, log *loadLog, settle time.Duration) (figures, error) {
	want := expectations(log)
	f := figures{ops: len(log.entries)}
	for _, e := range log.entries {
		if e.Outcome == ok {
			f.acked++
		}
	}
	// The database.
	for id, x := range want {
		var res *connect.Response[membersv1.GetMemberResponse]
		var err error
		for attempt := 0; attempt < 10; attempt++ { // a replica may be restarting
			res, err = l.front.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: community, Id: id}))
			if err == nil || connect.CodeOf(err) == connect.CodeNotFound {
				break
			}
			time.Sleep(time.Second)
		}
		if connect.CodeOf(err) == connect.CodeNotFound {
			f.membersLost++
			continue
		}
		if err != nil {
			return f, fmt.Errorf("get member %s: %w", id, err)
		}
		if got := res.Msg.GetMember().GetProfile().GetAvailabilityHoursPerMonth(); got < x.lastAcked {
			f.updatesLost++
		}
	}
	// The topics: wait until every acknowledged write's event is there.
	deadline := time.Now().Add(settle)
	var offers map[pairKey]int
	for {
		byKey, dups, err := readTopic(ctx, c.kafka.Addr(), memberevents.Topic(community))
		if err != nil {
			return f, err
		}
		rsvpLost, rsvpDisorder, rsvpDups, offersMade, err := rsvpEventFigures(ctx, c.kafka.Addr(), log)
		if err != nil {
			return f, err
		}
		lost, disorder := 0, 0
		for id, x := range want {
			evs := byKey[id]
			if len(evs) == 0 || evs[0].typ != memberevents.TypeMemberJoined {
				lost++
				continue
			}
			var seen []int32
			for _, e := range evs[1:] {
				if e.typ == memberevents.TypeMemberJoined {
					disorder++
				}
				if e.typ == memberevents.TypeProfileUpdated {
					if len(seen) > 0 && e.value < seen[len(seen)-1] {
						disorder++
					}
					seen = append(seen, e.value)
				}
			}
			if x.lastAcked > 0 && (len(seen) == 0 || seen[len(seen)-1] < x.lastAcked) {
				lost++
			}
		}
		f.eventsLost, f.outOfOrder, f.duplicateEvents = lost+rsvpLost, disorder+rsvpDisorder, dups+rsvpDups
		offers = offersMade
		if f.eventsLost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	// The events service's attendee lists, once the system settled.
	var err error
	var offered []pairKey
	if f.rsvpsLost, f.checkInsLost, f.seatsOversold, f.waitlistBroken, offered, err = accountRSVPs(ctx, l, log); err != nil {
		return f, err
	}
	// The mail server: one welcome per member, one e-mail per member of
	// each announcement's audience and a notice per seat offer, waiting for retries (a refused
	// e-mail waits a minute) and leases (2 minutes) to run out — and past
	// settle for as long as they still arrive, since a slow system is not
	// a stuck one: it stops once a minute passes without a new one, or at
	// three times settle.
	hardStop := deadline.Add(2 * settle)
	best, lastProgress := -1, time.Now()
	for {
		msgs := c.mail.messages()
		f.welcomesMissing, f.welcomesDuplicated, f.welcomesResent = welcomes(msgs, want)
		if f.announcements, err = accountAnnouncements(ctx, l, log, msgs); err != nil {
			return f, err
		}
		f.offers = seatOfferMail(log, msgs, offered, offers)
		missing := f.welcomesMissing + f.announcements.missing + f.offers.missing
		now := time.Now()
		if best < 0 || missing < best {
			best, lastProgress = missing, now
		}
		if missing == 0 || now.After(deadline) && (now.Sub(lastProgress) > time.Minute || now.After(hardStop)) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	// The messages' events, now that the e-mails went out.
	commsDisorder, commsDups, err := commsEventFigures(ctx, c.kafka.Addr())
	if err != nil {
		return f, err
	}
	f.outOfOrder, f.duplicateEvents = f.outOfOrder+commsDisorder, f.duplicateEvents+commsDups
	for _, topic := range []string{memberevents.Topic(community), community + ".events.v1", community + ".communications.v1", community + ".partners.v1"} {
		n, err := countRecords(ctx, c.kafka.Addr(), kafka.DeadLetterTopic(topic))
		if err != nil {
			return f, err
		}
		f.deadLetters += n
	}
	if l.setupErr != nil {
		// Without the events there were no RSVPs, nor announcements to
		// judge: the run measured less than it should have.
		return f, fmt.Errorf("load setup: %w", l.setupErr)
	}
	return f, nil
}

// isWelcome tells a welcome e-mail by its subject.
func isWelcome(subject string) bool { return strings.HasPrefix(subject, "Welcome to "+community) }

// copiesByRecipient groups the e-mails whose subject matches by recipient
// address (lower case), then by Message-ID, counting copies.
func copiesByRecipient(msgs []smtpsink.Message, match func(subject string) bool) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, m := range msgs {
		if !match(m.Subject) {
			continue
		}
		for _, to := range m.To {
			to = strings.ToLower(strings.Trim(to, "<> "))
			if out[to] == nil {
				out[to] = map[string]int{}
			}
			out[to][m.MessageID]++
		}
	}
	return out
}

// welcomes counts, over the members the load log says joined, those
// without a welcome e-mail, those with welcomes of more than one
// Message-ID, and the extra copies of a Message-ID already received.
func welcomes(msgs []smtpsink.Message, want map[string]*expectation) (missing, duplicated, resent int) {
	byRecipient := copiesByRecipient(msgs, isWelcome)
	for _, x := range want {
		ids := byRecipient[strings.ToLower(x.email)]
		switch {
		case len(ids) == 0:
			missing++
		case len(ids) > 1:
			duplicated++
		}
		for _, copies := range ids {
			resent += copies - 1
		}
	}
	return missing, duplicated, resent
}

type seenEvent struct {
	typ   string
	value int32
}

// readTopic reads every partition of topic to its end and returns each
// key's events in order, without repeats of an event id (counted apart).
func readTopic(ctx context.Context, broker, topic string) (map[string][]seenEvent, int, error) {
	events, dups, err := distinctEvents(ctx, broker, topic)
	if err != nil {
		return nil, 0, err
	}
	byKey := map[string][]seenEvent{}
	for _, e := range events {
		se := seenEvent{typ: e.Type}
		if e.Type == memberevents.TypeProfileUpdated {
			var p membersv1.ProfileUpdated
			if err := kafka.Decode(e, e.Type, &p); err != nil {
				return nil, 0, err
			}
			se.value = p.GetProfile().GetAvailabilityHoursPerMonth()
		}
		byKey[e.Key] = append(byKey[e.Key], se)
	}
	return byKey, dups, nil
}

// distinctEvents reads every partition of topic to its end and returns its
// events in order (partition by partition), each event id once, and how
// many repeats of an id it left out (the outbox publishes at least once).
func distinctEvents(ctx context.Context, broker, topic string) ([]kafka.Event, int, error) {
	msgs, err := readAllPartitions(ctx, broker, topic)
	if err != nil {
		return nil, 0, err
	}
	out := make([]kafka.Event, 0, len(msgs))
	ids := map[string]bool{}
	dups := 0
	for _, m := range msgs {
		e, err := kafka.ParseEvent(m)
		if err != nil {
			return nil, 0, fmt.Errorf("record %d/%d of %s is not an event: %w", m.Partition, m.Offset, topic, err)
		}
		if ids[e.ID] {
			dups++
			continue
		}
		ids[e.ID] = true
		out = append(out, e)
	}
	return out, dups, nil
}

func countRecords(ctx context.Context, broker, topic string) (int, error) {
	msgs, err := readAllPartitions(ctx, broker, topic)
	return len(msgs), err
}

// readAllPartitions reads each partition of topic from its first offset
// to the end it has now, partition by partition in offset order.
func readAllPartitions(ctx context.Context, broker, topic string) ([]kafkago.Message, error) {
	client := &kafkago.Client{Addr: kafkago.TCP(broker), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return nil, errors.New("topic " + topic + " not found")
	}
	req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
	for _, p := range meta.Topics[0].Partitions {
		req.Topics[topic] = append(req.Topics[topic], kafkago.FirstOffsetOf(p.ID), kafkago.LastOffsetOf(p.ID))
	}
	offs, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	var out []kafkago.Message
	for _, p := range offs.Topics[topic] {
		if p.LastOffset <= p.FirstOffset {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p.Partition, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(p.FirstOffset); err != nil {
			_ = r.Close()
			return nil, err
		}
		for {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			m, err := r.ReadMessage(rctx)
			cancel()
			if err != nil {
				_ = r.Close()
				return nil, fmt.Errorf("read %s/%d: %w", topic, p.Partition, err)
			}
			out = append(out, m)
			if m.Offset+1 >= p.LastOffset {
				break
			}
		}
		_ = r.Close()
	}
	return out, nil
}

// groupLags describes, for every consumer group, how far behind the end
// of each partition it has committed: where a stuck consumer is.
func groupLags(ctx context.Context, broker string) (string, error) {
	client := &kafkago.Client{Addr: kafkago.TCP(broker), Timeout: 10 * time.Second}
	groups, err := describeGroups(ctx, client)
	if err != nil {
		return "", err
	}
	out := ""
	for _, g := range groups {
		committed, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: g.id})
		if err != nil {
			return "", err
		}
		for topic, parts := range committed.Topics {
			req := &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{}}
			for _, p := range parts {
				req.Topics[topic] = append(req.Topics[topic], kafkago.LastOffsetOf(p.Partition))
			}
			ends, err := client.ListOffsets(ctx, req)
			if err != nil {
				return "", err
			}
			end := map[int]int64{}
			for _, p := range ends.Topics[topic] {
				end[p.Partition] = p.LastOffset
			}
			for _, p := range parts {
				if lag := end[p.Partition] - p.CommittedOffset; lag != 0 {
					out += fmt.Sprintf("%s (%s, %d members) %s/%d: committed %d of %d\n", g.id, g.state, g.members, topic, p.Partition, p.CommittedOffset, end[p.Partition])
				}
			}
		}
	}
	return out, nil
}
