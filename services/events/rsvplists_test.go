package events_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/auth"
)

// A member's RSVPs come in one call, by the occurrences' start; the seat
// offers about to expire come in one call for the organising team; each
// reaches only what the caller may see.
func TestMemberRSVPsAndExpiringSeatOffers(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	later := s.spec()
	later.Title, later.StartTime, later.EndTime = "Later", timestamppb.New(s.spec().GetStartTime().AsTime().Add(48*time.Hour)),
		timestamppb.New(s.spec().GetEndTime().AsTime().Add(48*time.Hour))
	sooner := s.spec()
	sooner.Capacity = 1
	first, second := s.publish(t, later), s.publish(t, sooner)
	_, ada, _ := s.as(t, "ada", auth.Member)
	_, bob, _ := s.as(t, "bob", auth.Member)
	_, team, _ := s.as(t, "olga", auth.Organiser)
	for _, e := range []*eventsv1.Event{first, second} {
		if _, err := rsvp(t, ada, e, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rsvp(t, bob, second, 0); err != nil {
		t.Fatal(err)
	}

	mine, err := ada.ListMemberRSVPs(ctx, connect.NewRequest(&eventsv1.ListMemberRSVPsRequest{PageSize: 1}))
	if err != nil || len(mine.Msg.GetRsvps()) != 1 || mine.Msg.GetRsvps()[0].GetEventId() != second.GetId() || mine.Msg.GetNextPageToken() == "" {
		t.Fatalf("ada's first page = %v, %v; want the sooner event and a next page", mine, err)
	}
	next, err := ada.ListMemberRSVPs(ctx, connect.NewRequest(&eventsv1.ListMemberRSVPsRequest{PageSize: 1, PageToken: mine.Msg.GetNextPageToken()}))
	if err != nil || len(next.Msg.GetRsvps()) != 1 || next.Msg.GetRsvps()[0].GetEventId() != first.GetId() || next.Msg.GetNextPageToken() != "" {
		t.Fatalf("ada's second page = %v, %v; want the later event, last", next, err)
	}
	if _, err := bob.ListMemberRSVPs(ctx, connect.NewRequest(&eventsv1.ListMemberRSVPsRequest{MemberId: "ada"})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("bob reading ada's RSVPs = %v, want PermissionDenied", err)
	}
	if res, err := team.ListMemberRSVPs(ctx, connect.NewRequest(&eventsv1.ListMemberRSVPsRequest{MemberId: "ada"})); err != nil || len(res.Msg.GetRsvps()) != 2 {
		t.Errorf("the team reading ada's RSVPs = %v, %v", res, err)
	}
	past, err := ada.ListMemberRSVPs(ctx, connect.NewRequest(&eventsv1.ListMemberRSVPsRequest{FromTime: timestamppb.New(later.GetStartTime().AsTime().Add(time.Hour))}))
	if err != nil || len(past.Msg.GetRsvps()) != 0 {
		t.Errorf("RSVPs from after both events = %v, %v; want none", past, err)
	}

	// Ada gives up her seat at the full event: bob is offered it for 24 h.
	occ := second.GetOccurrences()[0].GetId()
	if _, err := ada.CancelRSVP(ctx, connect.NewRequest(&eventsv1.CancelRSVPRequest{EventId: second.GetId(), OccurrenceId: occ})); err != nil {
		t.Fatal(err)
	}
	offers, err := team.ListSeatOffers(ctx, connect.NewRequest(&eventsv1.ListSeatOffersRequest{ExpiringBefore: timestamppb.New(s.clock.Now().Add(25 * time.Hour))}))
	if err != nil || len(offers.Msg.GetRsvps()) != 1 || offers.Msg.GetRsvps()[0].GetMemberId() != "bob" ||
		offers.Msg.GetRsvps()[0].GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_OFFERED {
		t.Fatalf("offers within 25 h = %v, %v; want bob's", offers, err)
	}
	if soon, err := team.ListSeatOffers(ctx, connect.NewRequest(&eventsv1.ListSeatOffersRequest{ExpiringBefore: timestamppb.New(s.clock.Now().Add(time.Hour))})); err != nil ||
		len(soon.Msg.GetRsvps()) != 0 {
		t.Errorf("offers within the hour = %v, %v; want none", soon, err)
	}
	if _, err := team.ListSeatOffers(ctx, connect.NewRequest(&eventsv1.ListSeatOffersRequest{ExpiringBefore: timestamppb.New(s.clock.Now().Add(40 * 24 * time.Hour))})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("offers 40 days ahead = %v, want InvalidArgument", err)
	}
	if _, err := bob.ListSeatOffers(ctx, connect.NewRequest(&eventsv1.ListSeatOffersRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a member listing offers = %v, want PermissionDenied", err)
	}
	// Another community's team sees none of it.
	_, other, _ := s.in(t, "other", "olga", auth.Organiser)
	if _, err := other.ListSeatOffers(ctx, connect.NewRequest(&eventsv1.ListSeatOffersRequest{Community: "demo"})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("another community's organiser listing demo's offers = %v, want PermissionDenied", err)
	}
	if res, err := other.ListMemberRSVPs(ctx, connect.NewRequest(&eventsv1.ListMemberRSVPsRequest{Community: "other", MemberId: "ada"})); err == nil && len(res.Msg.GetRsvps()) != 0 {
		t.Errorf("another community's organiser sees ada's RSVPs: %v", res)
	}
}
