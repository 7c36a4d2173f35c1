package communications_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// memberEvent is a members.v1 event as the members service publishes it:
// on the community's topic, keyed by member, with a fresh id.
func memberEvent(t *testing.T, typ, community, memberID string, payload proto.Message) kafka.Event {
	t.Helper()
	e, err := kafka.NewProto(kafka.Event{Type: typ, Source: "/communities/" + community + "/members", Subject: memberID, Time: time.Now(),
		Topic: memberevents.Topic(community), Key: memberID}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// joined is a MemberJoined of demo; verified says the address was vouched
// for (an organiser's join) rather than waiting for confirmation.
func joined(t *testing.T, id, email, name string, verified, consent bool, profile *membersv1.Profile) kafka.Event {
	t.Helper()
	if profile == nil {
		profile = &membersv1.Profile{}
	}
	profile.Email, profile.DisplayName = email, name
	return memberEvent(t, memberevents.TypeMemberJoined, "demo", id, &membersv1.MemberJoined{MemberId: id, Community: "demo", Email: email,
		DisplayName: name, EmailConsent: consent, JoinedAt: timestamppb.Now(), Profile: profile, EmailVerified: verified})
}

func consentChanged(t *testing.T, id, purpose string, granted bool) kafka.Event {
	t.Helper()
	return memberEvent(t, memberevents.TypeConsentChanged, "demo", id, &membersv1.ConsentChanged{MemberId: id, Community: "demo",
		Purpose: purpose, Granted: granted, OccurredAt: timestamppb.Now(), Source: "form", PolicyVersion: "v1"})
}
