package events_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	published "github.com/kinshiphq/kinship/services/events/events"
)

func TestForgetMemberErasesOnceAndIsIdempotent(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	past := s.publish(t, s.spec())
	_, ada, adaCal := s.as(t, "ada", auth.Member)
	_, bob, _ := s.as(t, "bob", auth.Member)
	if _, err := rsvp(t, ada, past, 0); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(7*24*time.Hour - time.Hour)
	seat, err := ada.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: past.GetOccurrences()[0].GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ada.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Code: seat.Msg.GetRsvp().GetQrPayload()})); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(3 * time.Hour)
	if _, err := ada.GiveFeedback(ctx, connect.NewRequest(&eventsv1.GiveFeedbackRequest{OccurrenceId: past.GetOccurrences()[0].GetId(),
		Rating: 4, Comment: "Ada says: lovely afternoon"})); err != nil {
		t.Fatal(err)
	}
	// Ada and Bob take the two seats of the next event; Cy waits.
	next := s.publish(t, s.spec())
	if _, err := rsvp(t, ada, next, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := rsvp(t, bob, next, 0); err != nil {
		t.Fatal(err)
	}
	_, cy, _ := s.as(t, "cy", auth.Member)
	if r, err := rsvp(t, cy, next, 0); err != nil || r.GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_WAITLISTED {
		t.Fatalf("cy's RSVP = %v, %v; want waitlisted", r, err)
	}
	if _, err := adaCal.GetFeedToken(ctx, connect.NewRequest(&eventsv1.GetFeedTokenRequest{})); err != nil {
		t.Fatal(err)
	}

	worker := eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	first, err := worker.ForgetMember(ctx, connect.NewRequest(&eventsv1.ForgetMemberRequest{Community: "demo", MemberId: "ada"}))
	if err != nil {
		t.Fatal(err)
	}
	got := first.Msg
	if got.GetRsvpsWithdrawn() != 1 || got.GetFeedbackCommentsRemoved() != 1 || got.GetFeedTokensRemoved() != 1 ||
		got.GetCheckInCodesRemoved() < 1 || got.GetForgottenAt() == nil {
		t.Errorf("first ForgetMember = %v", got)
	}
	if n := s.count(t, "SELECT count(*) FROM feedback WHERE comment <> ''"); n != 0 {
		t.Errorf("comments left: %d", n)
	}
	if n := s.count(t, "SELECT count(*) FROM feedback WHERE member_id = 'ada'"); n != 1 {
		t.Errorf("ratings = %d, want the rating kept under the pseudonymous id", n)
	}
	if n := s.count(t, "SELECT count(*) FROM feed_tokens"); n != 0 {
		t.Errorf("feed tokens left: %d", n)
	}
	if n := s.count(t, "SELECT count(*) FROM rsvps WHERE member_id = 'ada' AND code IS NOT NULL"); n != 0 {
		t.Errorf("check-in codes left: %d", n)
	}
	// The freed seat went to the waitlist.
	offered, err := s.attendance.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{OccurrenceId: next.GetOccurrences()[0].GetId(), MemberId: "cy"}))
	if err != nil || offered.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_OFFERED {
		t.Errorf("cy after ada was forgotten = %v, %v; want offered the freed seat", offered.Msg.GetRsvp(), err)
	}
	if n := s.count(t, "SELECT count(*) FROM audit_log WHERE action = 'member.forgotten' AND target_id = 'ada'"); n != 1 {
		t.Errorf("audit entries = %d, want 1", n)
	}

	again, err := worker.ForgetMember(ctx, connect.NewRequest(&eventsv1.ForgetMemberRequest{Community: "demo", MemberId: "ada"}))
	if err != nil {
		t.Fatal(err)
	}
	if a := again.Msg; a.GetRsvpsWithdrawn() != 0 || a.GetCheckInCodesRemoved() != 0 || a.GetFeedbackCommentsRemoved() != 0 ||
		a.GetFeedTokensRemoved() != 0 || a.GetSeriesRsvpsRemoved() != 0 {
		t.Errorf("second ForgetMember = %v, want nothing more removed", a)
	}
	if n := s.count(t, "SELECT count(*) FROM outbox WHERE event_type = '"+published.TypeRSVPCancelled+"'"); n != 1 {
		t.Errorf("RSVPCancelled events = %d, want 1", n)
	}
	if n := s.count(t, "SELECT count(*) FROM rsvps WHERE member_id = 'bob' AND status = 'going'"); n != 1 {
		t.Errorf("bob's seat = %d, want untouched", n)
	}
}

func TestForgetMemberRefusesBadInput(t *testing.T) {
	s := start(t)
	worker := eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	for name, req := range map[string]*eventsv1.ForgetMemberRequest{
		"no member":         {Community: "demo"},
		"unknown community": {Community: "elsewhere", MemberId: "ada"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := worker.ForgetMember(context.Background(), connect.NewRequest(req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("ForgetMember(%v) = %v, want InvalidArgument", req, err)
			}
		})
	}
}
