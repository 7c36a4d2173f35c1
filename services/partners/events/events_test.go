package events

import (
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

func TestContributionRecordedCarriesWhatTheMembersServiceNeeds(t *testing.T) {
	c := domain.Contribution{ID: "c1", Community: "demo", PartnerID: "p1", Kind: domain.ContributionVolunteer, Date: domain.MustDate("2026-03-01"),
		VolunteerMinutes: 90, MemberID: "m1", Description: "Planted trees with Ada", RecordedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e, err := Factory{}.ContributionRecorded(c)
	if err != nil {
		t.Fatal(err)
	}
	if e.Topic != "demo.partners.v1" || e.Key != "p1" || e.Type != "kinship.partners.v1.ContributionRecorded" || e.Source != "/communities/demo/partners" {
		t.Errorf("envelope = %+v", e)
	}
	if strings.Contains(string(e.Data), "Ada") {
		t.Error("the payload carries the free-text description")
	}
	parsed, err := kafka.ParseEvent(e.Message())
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeContributionRecorded(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetCommunity() != "demo" || got.GetPartnerId() != "p1" || got.GetContributionId() != "c1" || got.GetMemberId() != "m1" ||
		got.GetKind() != ContributionKindToProto(domain.ContributionVolunteer) || !got.GetOccurredAt().AsTime().Equal(c.Date.Time()) ||
		got.GetVolunteerMinutes() != 90 {
		t.Errorf("decoded %v", got)
	}

	c.MemberID = ""
	e, _ = Factory{}.ContributionRecorded(c)
	if got, err := DecodeContributionRecorded(e); err != nil || got.GetMemberId() != "" {
		t.Errorf("without a member: %v, %v", got, err)
	}
}

func TestDecodeRejectsOtherEvents(t *testing.T) {
	for name, e := range map[string]kafka.Event{
		"other type":    {ID: "e", Type: TypeAgreementSigned, ContentType: kafka.ContentTypeProtobuf},
		"json payload":  {ID: "e", Type: TypeContributionRecorded, ContentType: "application/json", Data: []byte("{}")},
		"garbage":       {ID: "e", Type: TypeContributionRecorded, ContentType: kafka.ContentTypeProtobuf, Data: []byte{0xff, 0xff}},
		"empty payload": {ID: "e", Type: TypeContributionRecorded, ContentType: kafka.ContentTypeProtobuf},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeContributionRecorded(e); err == nil {
				t.Error("decoded without error")
			}
		})
	}
}

func TestEveryDomainValueHasAProtoValue(t *testing.T) {
	for _, k := range domain.PartnerKinds() {
		if PartnerKindFromProto(PartnerKindToProto(k)) != k {
			t.Errorf("partner kind %s does not round-trip", k)
		}
	}
	for _, s := range domain.Statuses() {
		if got, ok := StatusFromProto(StatusToProto(s)); !ok || got != s {
			t.Errorf("status %s does not round-trip", s)
		}
	}
	for _, s := range domain.AgreementStatuses() {
		if got, ok := AgreementStatusFromProto(AgreementStatusToProto(s)); !ok || got != s {
			t.Errorf("agreement status %s does not round-trip", s)
		}
	}
	for _, k := range domain.AgreementKinds() {
		if AgreementKindFromProto(AgreementKindToProto(k)) != k {
			t.Errorf("agreement kind %s does not round-trip", k)
		}
	}
	for _, k := range domain.ContributionKinds() {
		if ContributionKindFromProto(ContributionKindToProto(k)) != k {
			t.Errorf("contribution kind %s does not round-trip", k)
		}
	}
	for _, k := range domain.InteractionKinds() {
		if InteractionKindFromProto(InteractionKindToProto(k)) != k {
			t.Errorf("interaction kind %s does not round-trip", k)
		}
	}
	for _, q := range domain.Quadrants() {
		if QuadrantToProto(q) == 0 {
			t.Errorf("quadrant %s has no proto value", q)
		}
	}
	if _, ok := StatusFromProto(0); ok {
		t.Error("an unspecified status was read as a status")
	}
}
