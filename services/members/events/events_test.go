package events

import (
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

func TestMemberJoinedRoundTrips(t *testing.T) {
	m := domain.Member{ID: "m1", Community: "demo", Profile: domain.Profile{Email: "ada@example.org", DisplayName: "Ada", Interests: []string{"solar"}},
		EmailConsent: true, Status: domain.StatusActive, JoinedAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	e, err := Factory{}.MemberJoined(m)
	if err != nil {
		t.Fatal(err)
	}
	if e.Topic != "demo.members.v1" || e.Key != "m1" || e.Type != TypeMemberJoined || e.Source != "/communities/demo/members" {
		t.Errorf("event envelope = %+v", e)
	}
	parsed, err := kafka.ParseEvent(e.Message())
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMemberJoined(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetMemberId() != "m1" || got.GetEmail() != "ada@example.org" || !got.GetJoinedAt().AsTime().Equal(m.JoinedAt) || got.GetProfile().GetDisplayName() != "Ada" {
		t.Errorf("decoded %v", got)
	}
}

func TestDecodeMemberJoinedRejectsOtherEvents(t *testing.T) {
	for name, e := range map[string]kafka.Event{
		"other type":    {ID: "e", Type: "kinship.members.v1.MemberLeft", ContentType: kafka.ContentTypeProtobuf},
		"json payload":  {ID: "e", Type: TypeMemberJoined, ContentType: "application/json", Data: []byte("{}")},
		"garbage":       {ID: "e", Type: TypeMemberJoined, ContentType: kafka.ContentTypeProtobuf, Data: []byte{0xff, 0xff}},
		"empty payload": {ID: "e", Type: TypeMemberJoined, ContentType: kafka.ContentTypeProtobuf},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeMemberJoined(e); err == nil {
				t.Error("decoded without error")
			}
		})
	}
}
