package chaos

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/smtpsink"
	commsevents "github.com/kinshiphq/kinship/services/communications/events"
	published "github.com/kinshiphq/kinship/services/events/events"
)

// The accounting's own rules, without a cluster: what counts as out of
// order on events.v1 and who must get an announcement.

func TestRSVPOrder(t *testing.T) {
	received := func(status string) rsvpEvent { return rsvpEvent{typ: published.TypeRSVPReceived, status: status} }
	seatTaken := rsvpEvent{typ: published.TypeSeatTaken}
	fromWaitlist := rsvpEvent{typ: published.TypeSeatTaken, fromWaitlist: true}
	waitlisted := rsvpEvent{typ: published.TypeWaitlisted}
	offered := rsvpEvent{typ: published.TypeSeatOffered}
	checkedIn := rsvpEvent{typ: published.TypeCheckedIn}
	cancelled := func(prev string) rsvpEvent { return rsvpEvent{typ: published.TypeRSVPCancelled, status: prev} }
	for _, tc := range []struct {
		name     string
		evs      []rsvpEvent
		disorder int
		halfDone bool
	}{
		{"seat then check-in", []rsvpEvent{received("going"), seatTaken, checkedIn}, 0, false},
		{"waitlist, offer, seat, cancel", []rsvpEvent{received("waitlisted"), waitlisted, offered, fromWaitlist, cancelled("going")}, 0, false},
		{"cancel and answer again", []rsvpEvent{received("going"), seatTaken, cancelled("going"), received("waitlisted"), waitlisted}, 0, false},
		{"check-in before the seat", []rsvpEvent{received("going"), checkedIn, seatTaken}, 2, false},
		{"offer to someone not waiting", []rsvpEvent{received("going"), seatTaken, offered}, 1, false},
		{"cancellation of another status", []rsvpEvent{received("waitlisted"), waitlisted, cancelled("going")}, 1, false},
		{"seat taken never published", []rsvpEvent{received("going")}, 0, true},
		{"waitlist place never published", []rsvpEvent{received("waitlisted")}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disorder, half := rsvpOrder(tc.evs)
			if disorder != tc.disorder || half != tc.halfDone {
				t.Errorf("rsvpOrder = %d out of order, half done %v; want %d, %v", disorder, half, tc.disorder, tc.halfDone)
			}
		})
	}
}

func TestMessageOrder(t *testing.T) {
	queued := messageEvent{typ: commsevents.TypeMessageQueued, message: "m"}
	sent := messageEvent{typ: commsevents.TypeMessageSent, message: "m", announcement: true}
	welcome := messageEvent{typ: commsevents.TypeMessageSent, message: "w"}
	bounced := messageEvent{typ: commsevents.TypeMessageBounced, message: "m"}
	for _, tc := range []struct {
		name string
		evs  []messageEvent
		want int
	}{
		{"queued, sent, bounced", []messageEvent{queued, sent, bounced}, 0},
		{"a welcome is never queued", []messageEvent{welcome}, 0},
		{"sent before queued", []messageEvent{sent, queued}, 2},
		{"bounced before sent", []messageEvent{queued, bounced, sent}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := messageOrder(tc.evs); got != tc.want {
				t.Errorf("messageOrder = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestAudienceOf(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	everyone := &announcement{N: 1, JoinedBefore: at(100), Barrier: true}
	window := &announcement{N: 2, JoinedAfter: at(100), JoinedBefore: at(200), Barrier: true}
	join := func(sent, acked int, out outcome, consent bool) entry {
		return entry{Op: "join", Sent: at(sent), At: at(acked), Outcome: out, Consent: consent}
	}
	for _, tc := range []struct {
		name string
		j    entry
		a    *announcement
		out  outcome
		want share
	}{
		{"joined before, with consent", join(10, 11, ok, true), everyone, ok, must},
		{"joined before, without consent", join(10, 11, ok, false), everyone, ok, mustNot},
		{"joined after it was created", join(101, 102, ok, true), everyone, ok, mustNot},
		{"answered after it was created", join(99, 101, ok, true), everyone, ok, may},
		{"join outcome unknown", join(10, 15, unknown, true), everyone, ok, may},
		{"join outcome unknown, sent after", join(101, 105, unknown, true), everyone, ok, mustNot},
		{"join refused", join(10, 11, refused, true), everyone, ok, mustNot},
		{"no barrier", join(10, 11, ok, true), &announcement{N: 1, JoinedBefore: at(100)}, ok, may},
		{"announcement outcome unknown", join(10, 11, ok, true), everyone, unknown, may},
		{"in the window", join(110, 111, ok, true), window, ok, must},
		{"before the window", join(10, 11, ok, true), window, ok, mustNot},
		{"across the window's start", join(99, 101, ok, true), window, ok, may},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := audienceOf(tc.j, tc.a, tc.out); got != tc.want {
				t.Errorf("audienceOf = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestAccountAnnouncements(t *testing.T) {
	t0 := time.Now().UTC()
	log, err := newLoadLog(filepath.Join(t.TempDir(), "load.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.close()
	joined := func(email string, sent time.Time, consent bool) {
		log.entries = append(log.entries, entry{Op: "join", Email: email, Member: email, Sent: sent, At: sent.Add(time.Millisecond * 10),
			Outcome: ok, Consent: consent})
	}
	joined("got-it@example.org", t0, true)
	joined("twice@example.org", t0, true)
	joined("resent@example.org", t0, true)
	joined("missing@example.org", t0, true)
	joined("no-consent@example.org", t0, false)
	joined("late@example.org", t0.Add(time.Minute), true)
	log.entries = append(log.entries, entry{Op: "announce", Outcome: ok,
		Announcement: &announcement{N: 1, JoinedBefore: t0.Add(time.Second), Barrier: true}})
	mail := func(to, id string) smtpsink.Message {
		return smtpsink.Message{To: []string{"<" + to + ">"}, MessageID: id, Subject: announcementSubject(1)}
	}
	msgs := []smtpsink.Message{
		mail("got-it@example.org", "a"),
		mail("twice@example.org", "b"), mail("twice@example.org", "c"),
		mail("resent@example.org", "d"), mail("resent@example.org", "d"),
		mail("no-consent@example.org", "e"),
		mail("late@example.org", "f"),
		mail("stranger@example.org", "g"),
		{To: []string{"missing@example.org"}, MessageID: "h", Subject: "Welcome to " + community},
	}
	f, err := accountAnnouncements(context.Background(), nil, log, msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := announceFigures{sent: 1, missing: 1, duplicated: 1, unexpected: 3, resent: 1}
	if f != want {
		t.Errorf("accountAnnouncements = %+v, want %+v", f, want)
	}
}

func TestSeatOfferMail(t *testing.T) {
	log, err := newLoadLog(filepath.Join(t.TempDir(), "load.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.close()
	log.entries = append(log.entries, entry{Op: "event", Event: "e1", Occurrence: "o1", Title: "Chaos event 1", Value: 5, Outcome: ok})
	for _, m := range []string{"told", "untold", "twice", "again", "resent"} {
		log.entries = append(log.entries, entry{Op: "join", Member: m, Email: m + "@example.org", Outcome: ok})
	}
	notice := func(to, id string) smtpsink.Message {
		return smtpsink.Message{To: []string{to + "@example.org"}, MessageID: id, Subject: seatOfferSubject("Chaos event 1")}
	}
	msgs := []smtpsink.Message{
		notice("told", "a"),
		notice("twice", "b"), notice("twice", "c"),
		notice("again", "d"), notice("again", "e"),
		notice("resent", "f"), notice("resent", "f"),
	}
	offered := []pairKey{{"told", "o1"}, {"untold", "o1"}, {"twice", "o1"}, {"again", "o1"}, {"resent", "o1"}}
	// "again" was offered a seat twice (withdrew, answered again, was
	// offered again): two notices are right.
	offers := map[pairKey]int{{"told", "o1"}: 1, {"untold", "o1"}: 1, {"twice", "o1"}: 1, {"again", "o1"}: 2, {"resent", "o1"}: 1}
	got := seatOfferMail(log, msgs, offered, offers)
	if want := (offerFigures{missing: 1, duplicated: 1, resent: 1}); got != want {
		t.Errorf("seatOfferMail = %+v, want %+v", got, want)
	}
}
