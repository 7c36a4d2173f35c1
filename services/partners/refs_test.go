package partners_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/internal/rpc"
)

// TestMembersAndEventsMustBeTheCommunitys is finding 8 for the partners
// service, from the attacker's side: an organiser of demo names, as a
// relationship owner, an interaction's organisers, or a contribution's
// member or event, ids of "other" or of nobody. Each is refused naming
// its field, and nothing is stored.
func TestMembersAndEventsMustBeTheCommunitys(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	s.members.add("other", membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, "bea-other")
	s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_LEFT, "gone-demo")
	s.events.add("other", membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, "event-other")

	refused := func(t *testing.T, err error, fields ...string) {
		t.Helper()
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Equal(rpc.FieldViolations(err), fields) {
			t.Errorf("error = %v, want InvalidArgument on %v", err, fields)
		}
	}
	owned := func(owner string) *partnersv1.Stakeholder {
		return &partnersv1.Stakeholder{Influence: 3, Interest: 3, OwnerId: owner}
	}
	for name, owner := range map[string]string{"another community's member": "bea-other", "nobody": "nobody-at-all", "a member who left": "gone-demo"} {
		t.Run("a partner owned by "+name, func(t *testing.T) {
			_, err := s.partners.AddPartner(ctx, connect.NewRequest(&partnersv1.AddPartnerRequest{Name: "Owned by " + name,
				Kind: partnersv1.PartnerKind_PARTNER_KIND_NGO, Stakeholder: owned(owner)}))
			refused(t, err, "stakeholder.owner_id")
		})
	}
	if n := s.count(t, "partners"); n != 0 {
		t.Fatalf("partners stored = %d, want none", n)
	}
	p := addPartner(t, s, "Solar Co-op") // owned by organiser-1, a member of demo
	for _, u := range []struct {
		name  string
		paths []string
	}{{"the owner", []string{"stakeholder.owner_id"}}, {"the whole assessment", []string{"stakeholder"}}} {
		t.Run("updating "+u.name+" to another community's member", func(t *testing.T) {
			_, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: p.GetId(),
				Partner: &partnersv1.Partner{Stakeholder: owned("bea-other")}, UpdateMask: &fieldmaskpb.FieldMask{Paths: u.paths}}))
			refused(t, err, "stakeholder.owner_id")
		})
	}
	// The owner already recorded stays acceptable once they left.
	s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_LEFT, "organiser-1")
	if _, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: p.GetId(),
		Partner: &partnersv1.Partner{Stakeholder: owned("organiser-1")}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"stakeholder"}}})); err != nil {
		t.Errorf("re-scoring with the recorded owner = %v", err)
	}
	s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, "organiser-1")

	_, err := s.partners.LogInteraction(ctx, connect.NewRequest(&partnersv1.LogInteractionRequest{PartnerId: p.GetId(),
		Kind: partnersv1.InteractionKind_INTERACTION_KIND_MEETING, OccurredAt: timestamppb.New(s.clock.Now()), OrganiserIds: []string{"organiser-1", "bea-other"}}))
	t.Run("an interaction with another community's organiser", func(t *testing.T) { refused(t, err, "organiser_ids") })

	contribution := func(member, event string) error {
		_, err := s.contributions.RecordContribution(ctx, connect.NewRequest(&partnersv1.RecordContributionRequest{PartnerId: p.GetId(),
			Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS, Date: "2026-03-10", VolunteerMinutes: 60, MemberId: member, EventId: event}))
		return err
	}
	t.Run("a contribution by another community's member", func(t *testing.T) { refused(t, contribution("bea-other", ""), "member_id") })
	t.Run("a contribution to another community's event", func(t *testing.T) { refused(t, contribution("", "event-other"), "event_id") })
	t.Run("a contribution naming nobody and no event", func(t *testing.T) {
		refused(t, contribution("nobody-at-all", "event-nowhere"), "member_id", "event_id")
	})
	if n := s.count(t, "contributions") + s.count(t, "interactions"); n != 0 {
		t.Errorf("contributions and interactions stored = %d, want none", n)
	}
	if err := contribution("member-7", "event-3"); err != nil {
		t.Errorf("a contribution by demo's member to demo's event = %v", err)
	}

	t.Run("the members service is down", func(t *testing.T) {
		s.members.setDown(true)
		defer s.members.setDown(false)
		err := contribution("member-7", "")
		if connect.CodeOf(err) != connect.CodeUnavailable || strings.Contains(err.Error(), "10.0.0.7") {
			t.Errorf("a contribution while members cannot answer = %v, want Unavailable without the owner's message", err)
		}
	})
}

// TestEventIdsNeedTheEventsService: without an events service to ask, a
// contribution's event is refused rather than taken unchecked.
func TestEventIdsNeedTheEventsService(t *testing.T) {
	s := start(t, func(s *service) { s.eventsURL = "" })
	ctx := context.Background()
	p := addPartner(t, s, "Solar Co-op")
	record := func(event string) error {
		_, err := s.contributions.RecordContribution(ctx, connect.NewRequest(&partnersv1.RecordContributionRequest{PartnerId: p.GetId(),
			Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS, Date: "2026-03-10", VolunteerMinutes: 60, EventId: event}))
		return err
	}
	if err := record("event-3"); connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Equal(rpc.FieldViolations(err), []string{"event_id"}) {
		t.Errorf("an event without an events service = %v, want InvalidArgument on event_id", err)
	}
	if err := record(""); err != nil {
		t.Errorf("a contribution without an event = %v", err)
	}
}
