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

func TestDoubleOptInEventsRoundTrip(t *testing.T) {
	m := domain.Member{ID: "m1", Community: "demo", Profile: domain.Profile{Email: "ada@example.org"}, JoinedAt: time.Now()}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	parse := func(e kafka.Event, err error) kafka.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if e.Topic != "demo.members.v1" || e.Key != "m1" {
			t.Errorf("%s envelope = %+v", e.Type, e)
		}
		parsed, err := kafka.ParseEvent(e.Message())
		if err != nil {
			t.Fatal(err)
		}
		return parsed
	}
	joined, err := DecodeMemberJoined(parse(Factory{}.MemberJoined(m)))
	if err != nil || joined.GetEmailVerified() {
		t.Errorf("MemberJoined of an unverified member = %v, %v", joined, err)
	}
	asked, err := DecodeEmailConfirmationRequested(parse(Factory{}.EmailConfirmationRequested(m, "ada@new.example.org", domain.ConfirmEmailChange, at)))
	if err != nil || asked.GetEmail() != "ada@new.example.org" || asked.GetReason() != "email_change" || !asked.GetRequestedAt().AsTime().Equal(at) {
		t.Errorf("EmailConfirmationRequested = %v, %v", asked, err)
	}
	confirmed, err := DecodeEmailConfirmed(parse(Factory{}.EmailConfirmed(m, "ada@example.org", domain.ConfirmJoin, at)))
	if err != nil || confirmed.GetEmail() != "ada@example.org" || confirmed.GetReason() != "join" {
		t.Errorf("EmailConfirmed = %v, %v", confirmed, err)
	}
	repeated, err := DecodeJoinRepeated(parse(Factory{}.JoinRepeated("demo", "m1", at)))
	if err != nil || repeated.GetMemberId() != "m1" || !repeated.GetOccurredAt().AsTime().Equal(at) {
		t.Errorf("JoinRepeated = %v, %v", repeated, err)
	}
	if _, err := DecodeJoinRepeated(parse(Factory{}.MemberJoined(m))); err == nil {
		t.Error("a MemberJoined decoded as JoinRepeated")
	}
}
