package events_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
)

// TestHostsRunTheDoorOfTheirOwnEventsOnly is the attacker's side of the
// host rule, over HTTP: hana hosts event A of demo and may list its
// attendees and check them in, by code or by member; she is refused on
// event B of the same community, as are a plain member, an ambassador,
// and a host of the same member id in another community; refused calls
// change nothing. Organisers keep their rights on every event, and a host
// taken off an event loses the door at once.
func TestHostsRunTheDoorOfTheirOwnEventsOnly(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	active := membersv1.MemberStatus_MEMBER_STATUS_ACTIVE
	s.members.add("demo", active, "hana", "ada", "ben", "cat", "mo", "amb")
	s.members.add("other", active, "hana")

	specA := s.spec()
	specA.Title, specA.Capacity, specA.HostIds = "Hosted by hana", 10, []string{"hana"}
	a := s.publish(t, specA)
	specB := s.spec()
	specB.Title, specB.Capacity, specB.HostIds = "Hosted by someone else", 10, []string{"mo"}
	b := s.publish(t, specB)
	occA, occB := a.GetOccurrences()[0].GetId(), b.GetOccurrences()[0].GetId()

	// Another community's event, hosted by a member who has the same id.
	otherOrganiser := eventsv1connect.NewEventsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "other", auth.Organiser)))
	specC := s.spec()
	specC.Title, specC.HostIds = "Other's event", []string{"hana"}
	created, err := otherOrganiser.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "other", Event: specC}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := otherOrganiser.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: "other", Id: created.Msg.GetEvent().GetId()})); err != nil {
		t.Fatal(err)
	}

	seat := func(memberID string, e *eventsv1.Event) *eventsv1.RSVP {
		t.Helper()
		_, c, _ := s.as(t, memberID, auth.Member)
		r, err := rsvp(t, c, e, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	adaA, catB := seat("ada", a), seat("cat", b)
	seat("ben", a)
	// Check-in opens two hours before the start.
	s.clock.Advance(a.GetOccurrences()[0].GetStartTime().AsTime().Sub(s.clock.Now()) - time.Hour)

	_, hana, _ := s.as(t, "hana", auth.Member)
	_, hanaAmbassador, _ := s.as(t, "hana", auth.Ambassador)
	_, mo, _ := s.as(t, "mo", auth.Member)
	_, amb, _ := s.as(t, "amb", auth.Ambassador)
	_, hanaOther, _ := s.in(t, "other", "hana", auth.Member)
	list := func(c eventsv1connect.AttendanceServiceClient, community, occurrence string) error {
		_, err := c.ListAttendees(ctx, connect.NewRequest(&eventsv1.ListAttendeesRequest{Community: community, OccurrenceId: occurrence}))
		return err
	}
	byCode := func(c eventsv1connect.AttendanceServiceClient, community, code string) error {
		_, err := c.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Community: community, Code: code}))
		return err
	}
	byMember := func(c eventsv1connect.AttendanceServiceClient, community, occurrence, member string) error {
		_, err := c.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Community: community, OccurrenceId: occurrence, MemberId: member}))
		return err
	}
	checkedIn := func() int {
		return s.count(t, "SELECT count(*) FROM rsvps WHERE status = 'checked_in'")
	}

	refused := []struct {
		name string
		call func() error
	}{
		{"host lists another event's attendees", func() error { return list(hana, "demo", occB) }},
		{"host checks in by code at another event", func() error { return byCode(hana, "demo", catB.GetCheckInCode()) }},
		{"host checks in by member at another event", func() error { return byMember(hana, "demo", occB, "cat") }},
		{"host as ambassador at another event", func() error { return byMember(hanaAmbassador, "demo", occB, "cat") }},
		{"host names her event's occurrence but another's member", func() error { return byMember(hana, "demo", occB, "ada") }},
		{"plain member lists attendees", func() error { return list(mo, "demo", occA) }},
		{"plain member checks in by someone's code", func() error { return byCode(mo, "demo", adaA.GetCheckInCode()) }},
		{"plain member checks in by member", func() error { return byMember(mo, "demo", occA, "ada") }},
		{"ambassador lists attendees", func() error { return list(amb, "demo", occA) }},
		{"ambassador checks in by member", func() error { return byMember(amb, "demo", occA, "ben") }},
		{"host lists an occurrence that does not exist", func() error { return list(hana, "demo", "01a21500-0000-7000-8000-000000000000") }},
		{"other community's host names demo", func() error { return list(hanaOther, "demo", occA) }},
		{"other community's host names demo's occurrence in her own", func() error { return list(hanaOther, "other", occA) }},
		{"other community's host checks in in demo", func() error { return byMember(hanaOther, "demo", occA, "ada") }},
		{"other community's host checks in demo's seat in her own", func() error { return byMember(hanaOther, "other", occA, "ada") }},
	}
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			if code := connect.CodeOf(tc.call()); code != connect.CodePermissionDenied {
				t.Errorf("got %v, want permission denied", code)
			}
			if n := checkedIn(); n != 0 {
				t.Errorf("%d seats checked in after a refused call, want 0", n)
			}
		})
	}
	// A code of demo, sent as another community's: not found there.
	t.Run("refused/other community's host checks in demo's code in her own", func(t *testing.T) {
		if code := connect.CodeOf(byCode(hanaOther, "other", adaA.GetCheckInCode())); code != connect.CodeNotFound {
			t.Errorf("got %v, want not found", code)
		}
		if n := checkedIn(); n != 0 {
			t.Errorf("%d seats checked in, want 0", n)
		}
	})

	t.Run("host lists her event's attendees", func(t *testing.T) {
		res, err := hana.ListAttendees(ctx, connect.NewRequest(&eventsv1.ListAttendeesRequest{Community: "demo", OccurrenceId: occA}))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, r := range res.Msg.GetRsvps() {
			got[r.GetMemberId()] = true
		}
		if len(got) != 2 || !got["ada"] || !got["ben"] {
			t.Errorf("attendees = %v, want ada and ben", got)
		}
	})
	t.Run("host checks in by code", func(t *testing.T) {
		res, err := hana.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Community: "demo", Code: adaA.GetCheckInCode()}))
		if err != nil {
			t.Fatal(err)
		}
		if r := res.Msg.GetRsvp(); r.GetMemberId() != "ada" || r.GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_CHECKED_IN {
			t.Errorf("check-in = %v, want ada checked in", r)
		}
	})
	t.Run("host checks in by member", func(t *testing.T) {
		if err := byMember(hana, "demo", occA, "ben"); err != nil {
			t.Fatal(err)
		}
		if n := checkedIn(); n != 2 {
			t.Errorf("%d seats checked in, want ada's and ben's", n)
		}
	})
	t.Run("organiser lists and checks in on any event", func(t *testing.T) {
		if err := list(s.attendance, "demo", occB); err != nil {
			t.Fatal(err)
		}
		if err := byMember(s.attendance, "demo", occB, "cat"); err != nil {
			t.Fatal(err)
		}
		if n := checkedIn(); n != 3 {
			t.Errorf("%d seats checked in, want 3", n)
		}
	})
	t.Run("a host taken off the event loses the door", func(t *testing.T) {
		_, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Community: "demo", Id: a.GetId(),
			Event: &eventsv1.EventSpec{HostIds: []string{"mo"}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"host_ids"}}}))
		if err != nil {
			t.Fatal(err)
		}
		if code := connect.CodeOf(list(hana, "demo", occA)); code != connect.CodePermissionDenied {
			t.Errorf("former host lists attendees: %v, want permission denied", code)
		}
		if err := list(mo, "demo", occA); err != nil {
			t.Errorf("new host lists attendees: %v", err)
		}
	})
}
