package communications_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
	commevents "github.com/kinshiphq/kinship/services/communications/events"
)

// scheduled is an EventScheduled as the events service publishes it.
func scheduled(t *testing.T, id, title string, visibility eventsv1.Visibility, tags []string, starts time.Time) kafka.Event {
	t.Helper()
	data, err := proto.Marshal(&eventsv1.EventScheduled{EventId: id, Community: "demo", Title: title, Kind: eventsv1.EventKind_EVENT_KIND_OFFLINE,
		Visibility: visibility, TimeZone: "Europe/Berlin", Tags: tags, PublishedAt: timestamppb.Now(),
		Occurrences: []*eventsv1.OccurrenceTimes{{OccurrenceId: id + "-1", StartTime: timestamppb.New(starts), EndTime: timestamppb.New(starts.Add(2 * time.Hour))}}})
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Event{ID: uuid.NewString(), Type: commevents.TypeEventScheduled, Source: "/communities/demo/events", Time: time.Now(),
		ContentType: kafka.ContentTypeProtobuf, Data: data, Topic: "demo.events.v1", Key: id}
}

func TestDigestsListUpcomingEventsForEachMember(t *testing.T) {
	solar, other := recipient(0), recipient(1)
	solar.Interests, solar.TimeZone = []string{"solar"}, "Asia/Tokyo"
	f := start(t, options{recipients: []domain.Recipient{solar, other}})
	ctx := context.Background()
	saveTemplate(t, f, "weekly", &communicationsv1.TemplateVariant{Subject: "This week",
		TextBody: "{{range .Events}}- {{.Title}}, {{.StartsAt}} {{.URL}}\n{{end}}"})

	// Nothing is coming up yet: digests are not sent empty.
	empty := announce(t, f, "digest-0", &communicationsv1.CreateAnnouncementRequest{Template: "weekly", Kind: communicationsv1.AnnouncementKind_ANNOUNCEMENT_KIND_DIGEST})
	eventually(t, "the empty digest is settled", func() bool {
		res, err := f.announcements.GetAnnouncement(ctx, connect.NewRequest(&communicationsv1.GetAnnouncementRequest{Community: "demo", Id: empty.GetId()}))
		return err == nil && res.Msg.GetAnnouncement().GetSuppressed() == 2
	})

	in3days := time.Now().Add(72 * time.Hour).Truncate(time.Minute)
	f.publish(t,
		scheduled(t, "repair", "Repair café", eventsv1.Visibility_VISIBILITY_PUBLIC, []string{"repair"}, in3days),
		scheduled(t, "panels", "Solar panels 101", eventsv1.Visibility_VISIBILITY_PUBLIC, []string{"solar"}, in3days.Add(24*time.Hour)),
		scheduled(t, "board", "Board meeting", eventsv1.Visibility_VISIBILITY_MEMBERS, nil, in3days),
		scheduled(t, "later", "Next month", eventsv1.Visibility_VISIBILITY_PUBLIC, nil, in3days.Add(30*24*time.Hour)),
	)
	eventually(t, "the events feed has the events", func() bool { return f.count(t, "SELECT count(*) FROM upcoming_events") == 4 })

	announce(t, f, "digest-1", &communicationsv1.CreateAnnouncementRequest{Template: "weekly", Kind: communicationsv1.AnnouncementKind_ANNOUNCEMENT_KIND_DIGEST})
	eventually(t, "both digests arrive", func() bool { return len(f.sink.Messages("")) == 2 })
	got := f.sink.Messages(solar.Email)[0].Text
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(got, "\r\n", "\n")), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "- Solar panels 101, ") || !strings.HasPrefix(lines[1], "- Repair café, ") {
		t.Fatalf("digest for a solar fan = %q, want the solar event first, then the other public one", got)
	}
	if want := in3days.Add(24 * time.Hour).In(mustZone(t, "Asia/Tokyo")).Format("Mon 2 Jan 15:04 MST"); !strings.Contains(lines[0], want) {
		t.Errorf("time shown = %q, want %q (the member's zone)", lines[0], want)
	}
	if !strings.Contains(lines[0], "https://events.example.org/calendar/demo/events/panels.ics") {
		t.Errorf("no calendar link in %q", lines[0])
	}
	if first := strings.Split(strings.TrimSpace(strings.ReplaceAll(f.sink.Messages(other.Email)[0].Text, "\r\n", "\n")), "\n")[0]; !strings.HasPrefix(first, "- Repair café") {
		t.Errorf("digest without interests starts with %q, want the soonest event", first)
	}

	// A cancelled event leaves the digests.
	data, _ := proto.Marshal(&eventsv1.EventCancelled{EventId: "panels", Community: "demo", CancelledAt: timestamppb.Now()})
	f.publish(t, kafka.Event{ID: uuid.NewString(), Type: commevents.TypeEventCancelled, Source: "/communities/demo/events", Time: time.Now(),
		ContentType: kafka.ContentTypeProtobuf, Data: data, Topic: "demo.events.v1", Key: "panels"})
	eventually(t, "the cancellation applies", func() bool { return f.count(t, "SELECT count(*) FROM upcoming_events WHERE event_id = 'panels'") == 0 })
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
