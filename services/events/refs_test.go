package events_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/services/events"
)

// TestPeopleAndPartnersMustBeTheCommunitys is finding 8 for the events
// service, from the attacker's side: an organiser of demo names, as an
// event's organisers, hosts or partner, or as the member they answer for,
// ids that belong to "other" or to nobody. Each is refused naming its
// field, and nothing is stored.
func TestPeopleAndPartnersMustBeTheCommunitys(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	active := membersv1.MemberStatus_MEMBER_STATUS_ACTIVE
	s.members.add("demo", active, "ada-demo", "host-demo")
	s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_LEFT, "gone-demo")
	s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_ERASED, "erased-demo")
	s.members.add("other", active, "bea-other")
	s.partners.add("demo", active, "partner-demo")
	s.partners.add("other", active, "partner-other")

	refused := func(t *testing.T, err error, field string) {
		t.Helper()
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Equal(rpc.FieldViolations(err), []string{field}) {
			t.Errorf("error = %v, want InvalidArgument on %s alone", err, field)
		}
		if strings.Contains(err.Error(), "10.0.0.7") {
			t.Errorf("error passes on the owner's message: %v", err)
		}
	}
	stored := s.count(t, "SELECT count(*) FROM events")
	creates := []struct {
		name  string
		edit  func(*eventsv1.EventSpec)
		field string
	}{
		{"another community's member as organiser", func(p *eventsv1.EventSpec) { p.OrganiserIds = []string{"ada-demo", "bea-other"} }, "organiser_ids"},
		{"nobody as organiser", func(p *eventsv1.EventSpec) { p.OrganiserIds = []string{"nobody-at-all"} }, "organiser_ids"},
		{"a member who left as organiser", func(p *eventsv1.EventSpec) { p.OrganiserIds = []string{"gone-demo"} }, "organiser_ids"},
		{"an erased member as host", func(p *eventsv1.EventSpec) { p.HostIds = []string{"erased-demo"} }, "host_ids"},
		{"another community's member as host", func(p *eventsv1.EventSpec) { p.HostIds = []string{"bea-other"} }, "host_ids"},
		{"another community's partner", func(p *eventsv1.EventSpec) { p.PartnerId = "partner-other" }, "partner_id"},
		{"no partner at all", func(p *eventsv1.EventSpec) { p.PartnerId = "partner-nowhere" }, "partner_id"},
	}
	for _, c := range creates {
		t.Run("create with "+c.name, func(t *testing.T) {
			spec := s.spec()
			c.edit(spec)
			_, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: spec}))
			refused(t, err, c.field)
		})
	}
	if n := s.count(t, "SELECT count(*) FROM events"); n != stored {
		t.Fatalf("events stored = %d, want %d: a refused event was kept", n, stored)
	}

	spec := s.spec()
	spec.OrganiserIds, spec.HostIds, spec.PartnerId = []string{"ada-demo"}, []string{"host-demo"}, "partner-demo"
	created, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: spec}))
	if err != nil {
		t.Fatalf("an event with demo's own people and partner = %v", err)
	}
	e := created.Msg.GetEvent()

	updates := []struct {
		name  string
		spec  *eventsv1.EventSpec
		paths []string
		field string
	}{
		{"adding another community's host", &eventsv1.EventSpec{HostIds: []string{"host-demo", "bea-other"}}, []string{"host_ids"}, "host_ids"},
		{"adding nobody as organiser", &eventsv1.EventSpec{OrganiserIds: []string{"ada-demo", "nobody-at-all"}}, []string{"organiser_ids"}, "organiser_ids"},
		{"moving to another community's partner", &eventsv1.EventSpec{PartnerId: "partner-other"}, []string{"partner_id"}, "partner_id"},
	}
	for _, u := range updates {
		t.Run("update "+u.name, func(t *testing.T) {
			_, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Community: "demo", Id: e.GetId(), Event: u.spec,
				UpdateMask: &fieldmaskpb.FieldMask{Paths: u.paths}}))
			refused(t, err, u.field)
		})
	}
	got, err := s.events.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: "demo", Id: e.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if sp := got.Msg.GetEvent().GetSpec(); !slices.Equal(sp.GetHostIds(), []string{"host-demo"}) || !slices.Equal(sp.GetOrganiserIds(), []string{"ada-demo"}) ||
		sp.GetPartnerId() != "partner-demo" {
		t.Errorf("after refused updates the event holds %v, %v, %q", sp.GetOrganiserIds(), sp.GetHostIds(), sp.GetPartnerId())
	}
	// Ids already on the event stay acceptable even once their member
	// left; only what an update adds is checked.
	s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_LEFT, "host-demo")
	if _, err := s.events.UpdateEvent(ctx, connect.NewRequest(&eventsv1.UpdateEventRequest{Community: "demo", Id: e.GetId(),
		Event: &eventsv1.EventSpec{HostIds: []string{"host-demo", "ada-demo"}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"host_ids"}}})); err != nil {
		t.Errorf("adding a member beside one who left = %v", err)
	}

	pub := s.publish(t, s.spec())
	answer := func(member string) error {
		_, err := s.attendance.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{Community: "demo", EventId: pub.GetId(),
			OccurrenceId: pub.GetOccurrences()[0].GetId(), MemberId: member, Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING}))
		return err
	}
	t.Run("the team answers for another community's member", func(t *testing.T) { refused(t, answer("bea-other"), "member_id") })
	t.Run("the team answers for nobody", func(t *testing.T) { refused(t, answer("nobody-at-all"), "member_id") })
	if n := s.count(t, "SELECT count(*) FROM rsvps"); n != 0 {
		t.Errorf("RSVPs stored = %d, want none", n)
	}
	if err := answer("ada-demo"); err != nil {
		t.Errorf("the team answering for demo's member = %v", err)
	}
	_, self, _ := s.as(t, "new-face", auth.Member)
	if _, err := rsvp(t, self, pub, 0); err != nil {
		t.Errorf("a member answering for themselves (their token names them) = %v", err)
	}

	t.Run("the members service is down", func(t *testing.T) {
		s.members.setDown(true)
		defer s.members.setDown(false)
		spec := s.spec()
		spec.HostIds = []string{"ada-demo"}
		_, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: spec}))
		if connect.CodeOf(err) != connect.CodeUnavailable || strings.Contains(err.Error(), "10.0.0.7") {
			t.Errorf("create while members cannot answer = %v, want Unavailable without the owner's message", err)
		}
	})
}

// TestPartnerIdsNeedThePartnersService: without a partners service to ask,
// an event's partner is refused rather than taken unchecked.
func TestPartnerIdsNeedThePartnersService(t *testing.T) {
	s := startWith(t, func(c *events.Config, _ *events.Deps) { c.PartnersURL = "" })
	ctx := context.Background()
	spec := s.spec()
	spec.PartnerId = "partner-demo"
	_, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: spec}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Equal(rpc.FieldViolations(err), []string{"partner_id"}) {
		t.Errorf("a partner without a partners service = %v, want InvalidArgument on partner_id", err)
	}
	if _, err := s.events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: s.spec()})); err != nil {
		t.Errorf("an event without a partner = %v", err)
	}
}
