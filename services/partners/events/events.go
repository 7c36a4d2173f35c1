// Package events holds what the partners service publishes: the topic, the
// CloudEvents types and sources, and the protobuf payloads. Consumers of
// partners.v1 (the members service's activity feed) use it to decode what
// they read. No event carries a contact's personal data or free text.
package events

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

// CloudEvents types of partners.v1.
const (
	TypePartnerAdded         = "kinship.partners.v1.PartnerAdded"
	TypePartnerUpdated       = "kinship.partners.v1.PartnerUpdated"
	TypePartnerStatusChanged = "kinship.partners.v1.PartnerStatusChanged"
	TypeAgreementSigned      = "kinship.partners.v1.AgreementSigned"
	TypeAgreementExpiring    = "kinship.partners.v1.AgreementExpiring"
	TypeAgreementEnded       = "kinship.partners.v1.AgreementEnded"
	TypeContributionRecorded = "kinship.partners.v1.ContributionRecorded"
	TypeInteractionLogged    = "kinship.partners.v1.InteractionLogged"
)

// Topic is where a community's partner events go, keyed by partner id.
func Topic(community string) string { return community + ".partners.v1" }

// Source is the CloudEvents source of a community's partner events.
func Source(community string) string { return "/communities/" + community + "/partners" }

// Factory builds the partners service's events, each with a fresh id.
type Factory struct{}

func (Factory) event(community, partnerID, typ string, at time.Time, payload proto.Message) (kafka.Event, error) {
	return kafka.NewProto(kafka.Event{Type: typ, Source: Source(community), Subject: partnerID, Time: at,
		Topic: Topic(community), Key: partnerID}, payload)
}

// PartnerAdded is the event of p being added.
func (f Factory) PartnerAdded(p domain.Partner) (kafka.Event, error) {
	return f.event(p.Community, p.ID, TypePartnerAdded, p.AddedAt, &partnersv1.PartnerAdded{
		Community: p.Community, PartnerId: p.ID, Partner: PartnerToProto(p),
	})
}

// PartnerUpdated carries p's new state and the paths that changed.
func (f Factory) PartnerUpdated(p domain.Partner, changed []string) (kafka.Event, error) {
	return f.event(p.Community, p.ID, TypePartnerUpdated, p.UpdatedAt, &partnersv1.PartnerUpdated{
		Community: p.Community, PartnerId: p.ID, Changed: changed, Partner: PartnerToProto(p),
	})
}

// PartnerStatusChanged is a move along the pipeline. The note stays in the
// service.
func (f Factory) PartnerStatusChanged(community string, sc domain.StatusChange) (kafka.Event, error) {
	return f.event(community, sc.PartnerID, TypePartnerStatusChanged, sc.ChangedAt, &partnersv1.PartnerStatusChanged{
		Community: community, PartnerId: sc.PartnerID, FromStatus: StatusToProto(sc.From), ToStatus: StatusToProto(sc.To),
		ChangedBy: sc.ChangedBy, ChangedAt: timestamppb.New(sc.ChangedAt),
	})
}

// AgreementSigned is a signature, or with renewal set a renewal.
func (f Factory) AgreementSigned(a domain.Agreement, renewal bool) (kafka.Event, error) {
	return f.event(a.Community, a.PartnerID, TypeAgreementSigned, a.UpdatedAt, &partnersv1.AgreementSigned{
		Community: a.Community, PartnerId: a.PartnerID, AgreementId: a.ID, Kind: AgreementKindToProto(a.Kind),
		StartDate: a.Start.String(), EndDate: a.End.String(), Value: MoneyToProto(a.Value), SignedOn: a.SignedOn.String(), Renewal: renewal,
	})
}

// AgreementExpiring announces that a ends within thresholdDays.
func (f Factory) AgreementExpiring(a domain.Agreement, thresholdDays, daysLeft int, at time.Time) (kafka.Event, error) {
	return f.event(a.Community, a.PartnerID, TypeAgreementExpiring, at, &partnersv1.AgreementExpiring{
		Community: a.Community, PartnerId: a.PartnerID, AgreementId: a.ID, EndDate: a.End.String(),
		ThresholdDays: int32(thresholdDays), DaysLeft: int32(daysLeft),
	})
}

// AgreementEnded is the end of a: it expired or was terminated.
func (f Factory) AgreementEnded(a domain.Agreement, at time.Time) (kafka.Event, error) {
	return f.event(a.Community, a.PartnerID, TypeAgreementEnded, at, &partnersv1.AgreementEnded{
		Community: a.Community, PartnerId: a.PartnerID, AgreementId: a.ID, Status: AgreementStatusToProto(a.Status), EndedOn: a.EndedOn.String(),
	})
}

// ContributionRecorded is a contribution; occurred_at is the start of its
// day, UTC. The description stays in the service.
func (f Factory) ContributionRecorded(c domain.Contribution) (kafka.Event, error) {
	return f.event(c.Community, c.PartnerID, TypeContributionRecorded, c.RecordedAt, &partnersv1.ContributionRecorded{
		Community: c.Community, PartnerId: c.PartnerID, ContributionId: c.ID, MemberId: c.MemberID, Kind: ContributionKindToProto(c.Kind),
		OccurredAt: timestamppb.New(c.Date.Time()), Value: MoneyToProto(c.Value), VolunteerMinutes: c.VolunteerMinutes,
		EventId: c.EventID, Goal: c.Goal,
	})
}

// InteractionLogged is an interaction; its notes stay in the service.
func (f Factory) InteractionLogged(i domain.Interaction) (kafka.Event, error) {
	return f.event(i.Community, i.PartnerID, TypeInteractionLogged, i.RecordedAt, &partnersv1.InteractionLogged{
		Community: i.Community, PartnerId: i.PartnerID, InteractionId: i.ID, Kind: InteractionKindToProto(i.Kind),
		OccurredAt: timestamppb.New(i.OccurredAt), OrganiserIds: i.OrganiserIDs, ContactIds: i.ContactIDs,
	})
}

// DecodeContributionRecorded reads a ContributionRecorded event's payload.
func DecodeContributionRecorded(e kafka.Event) (*partnersv1.ContributionRecorded, error) {
	var m partnersv1.ContributionRecorded
	if err := kafka.Decode(e, TypeContributionRecorded, &m); err != nil {
		return nil, err
	}
	if m.GetCommunity() == "" || m.GetPartnerId() == "" || m.GetContributionId() == "" || m.GetOccurredAt() == nil {
		return nil, fmt.Errorf("decode ContributionRecorded %s: community, partner, contribution id or time missing", e.ID)
	}
	if err := m.GetOccurredAt().CheckValid(); err != nil {
		return nil, fmt.Errorf("decode ContributionRecorded %s: occurred_at: %w", e.ID, err)
	}
	return &m, nil
}
