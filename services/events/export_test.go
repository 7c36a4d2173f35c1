package events_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
)

// A member's subject-access export holds their RSVPs, check-ins, ratings
// with comments and the events they host — theirs only, in their
// community only; another member may not read it, an organiser may.
func TestExportMemberDataHoldsWhatIsTheirs(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, "ada", "bob")
	spec := s.spec()
	spec.HostIds = []string{"ada"}
	e := s.publish(t, spec)
	occ := e.GetOccurrences()[0].GetId()
	_, adaAtt, _ := s.as(t, "ada", auth.Member)
	_, bobAtt, _ := s.as(t, "bob", auth.Member)
	for _, att := range []eventsv1connect.AttendanceServiceClient{adaAtt, bobAtt} {
		if _, err := att.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{EventId: e.GetId(), OccurrenceId: occ, Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING})); err != nil {
			t.Fatal(err)
		}
	}
	s.clock.Advance(7*24*time.Hour + 30*time.Minute)
	if _, err := s.attendance.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{OccurrenceId: occ, MemberId: "ada"})); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(3 * time.Hour)
	if _, err := adaAtt.GiveFeedback(ctx, connect.NewRequest(&eventsv1.GiveFeedbackRequest{OccurrenceId: occ, Rating: 5, Comment: "Loved the soldering table"})); err != nil {
		t.Fatal(err)
	}

	res, err := adaAtt.ExportMemberData(ctx, connect.NewRequest(&eventsv1.ExportMemberDataRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		MemberID string `json:"member_id"`
		RSVPs    []struct {
			OccurrenceID string     `json:"occurrence_id"`
			Status       string     `json:"status"`
			CheckedInAt  *time.Time `json:"checked_in_at"`
		} `json:"rsvps"`
		Feedback []struct {
			Rating  int    `json:"rating"`
			Comment string `json:"comment"`
		} `json:"feedback"`
		Hosted []struct {
			EventID string `json:"event_id"`
		} `json:"hosted_events"`
	}
	if err := json.Unmarshal(res.Msg.GetJson(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.MemberID != "ada" || len(doc.RSVPs) != 1 || doc.RSVPs[0].Status != "checked_in" || doc.RSVPs[0].CheckedInAt == nil ||
		len(doc.Feedback) != 1 || doc.Feedback[0].Comment != "Loved the soldering table" || len(doc.Hosted) != 1 || doc.Hosted[0].EventID != e.GetId() {
		t.Errorf("ada's export = %s", res.Msg.GetJson())
	}
	if _, err := bobAtt.ExportMemberData(ctx, connect.NewRequest(&eventsv1.ExportMemberDataRequest{MemberId: "ada"})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("bob exporting ada's data = %v, want PermissionDenied", err)
	}
	if res, err := s.attendance.ExportMemberData(ctx, connect.NewRequest(&eventsv1.ExportMemberDataRequest{MemberId: "ada"})); err != nil ||
		!strings.Contains(string(res.Msg.GetJson()), "soldering") {
		t.Errorf("the organiser's export of ada = %v, %v", res, err)
	}
	// Another community's organiser, naming ada, finds nothing of demo's.
	_, otherAtt, _ := s.in(t, "other", "o-1", auth.Organiser)
	other, err := otherAtt.ExportMemberData(ctx, connect.NewRequest(&eventsv1.ExportMemberDataRequest{Community: "other", MemberId: "ada"}))
	if err != nil || strings.Contains(string(other.Msg.GetJson()), e.GetId()) || strings.Contains(string(other.Msg.GetJson()), "soldering") {
		t.Errorf("other's export naming ada = %v, %v", other, err)
	}
	if n := s.count(t, "SELECT count(*) FROM audit_log WHERE action = 'member.exported' AND community = 'demo' AND target_id = 'ada'"); n != 2 {
		t.Errorf("exports audited in demo = %d, want 2", n)
	}
}
