package events

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

// The protobuf forms of domain values, shared by the events and the API.

// enum maps a domain value to its protobuf enum and back; the zero domain
// value stands for unspecified and unknown protobuf values.
type enum[D comparable, P comparable] struct{ pairs map[D]P }

func (e enum[D, P]) toProto(d D) P { return e.pairs[d] }

func (e enum[D, P]) fromProto(p P) (D, bool) {
	for d, v := range e.pairs {
		if v == p {
			return d, true
		}
	}
	var zero D
	return zero, false
}

var (
	partnerKinds = enum[domain.PartnerKind, partnersv1.PartnerKind]{map[domain.PartnerKind]partnersv1.PartnerKind{
		domain.KindSponsor: partnersv1.PartnerKind_PARTNER_KIND_SPONSOR, domain.KindNGO: partnersv1.PartnerKind_PARTNER_KIND_NGO,
		domain.KindPublicBody: partnersv1.PartnerKind_PARTNER_KIND_PUBLIC_BODY, domain.KindBusiness: partnersv1.PartnerKind_PARTNER_KIND_BUSINESS,
		domain.KindEducation: partnersv1.PartnerKind_PARTNER_KIND_EDUCATION, domain.KindMedia: partnersv1.PartnerKind_PARTNER_KIND_MEDIA,
		domain.KindCommunityGroup: partnersv1.PartnerKind_PARTNER_KIND_COMMUNITY_GROUP,
	}}
	statuses = enum[domain.Status, partnersv1.PartnerStatus]{map[domain.Status]partnersv1.PartnerStatus{
		domain.StatusProspect: partnersv1.PartnerStatus_PARTNER_STATUS_PROSPECT, domain.StatusInConversation: partnersv1.PartnerStatus_PARTNER_STATUS_IN_CONVERSATION,
		domain.StatusActive: partnersv1.PartnerStatus_PARTNER_STATUS_ACTIVE, domain.StatusLapsed: partnersv1.PartnerStatus_PARTNER_STATUS_LAPSED,
	}}
	quadrants = enum[domain.Quadrant, partnersv1.Quadrant]{map[domain.Quadrant]partnersv1.Quadrant{
		domain.QuadrantManageClosely: partnersv1.Quadrant_QUADRANT_MANAGE_CLOSELY, domain.QuadrantKeepSatisfied: partnersv1.Quadrant_QUADRANT_KEEP_SATISFIED,
		domain.QuadrantKeepInformed: partnersv1.Quadrant_QUADRANT_KEEP_INFORMED, domain.QuadrantMonitor: partnersv1.Quadrant_QUADRANT_MONITOR,
	}}
	agreementKinds = enum[domain.AgreementKind, partnersv1.AgreementKind]{map[domain.AgreementKind]partnersv1.AgreementKind{
		domain.AgreementMoU: partnersv1.AgreementKind_AGREEMENT_KIND_MOU, domain.AgreementSponsorship: partnersv1.AgreementKind_AGREEMENT_KIND_SPONSORSHIP,
		domain.AgreementVenue: partnersv1.AgreementKind_AGREEMENT_KIND_VENUE, domain.AgreementDataSharing: partnersv1.AgreementKind_AGREEMENT_KIND_DATA_SHARING,
	}}
	agreementStatuses = enum[domain.AgreementStatus, partnersv1.AgreementStatus]{map[domain.AgreementStatus]partnersv1.AgreementStatus{
		domain.AgreementDraft: partnersv1.AgreementStatus_AGREEMENT_STATUS_DRAFT, domain.AgreementSigned: partnersv1.AgreementStatus_AGREEMENT_STATUS_SIGNED,
		domain.AgreementActive: partnersv1.AgreementStatus_AGREEMENT_STATUS_ACTIVE, domain.AgreementExpired: partnersv1.AgreementStatus_AGREEMENT_STATUS_EXPIRED,
		domain.AgreementTerminated: partnersv1.AgreementStatus_AGREEMENT_STATUS_TERMINATED,
	}}
	contributionKinds = enum[domain.ContributionKind, partnersv1.ContributionKind]{map[domain.ContributionKind]partnersv1.ContributionKind{
		domain.ContributionMoney: partnersv1.ContributionKind_CONTRIBUTION_KIND_MONEY, domain.ContributionInKind: partnersv1.ContributionKind_CONTRIBUTION_KIND_IN_KIND,
		domain.ContributionVenue: partnersv1.ContributionKind_CONTRIBUTION_KIND_VENUE, domain.ContributionVolunteer: partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS,
	}}
	interactionKinds = enum[domain.InteractionKind, partnersv1.InteractionKind]{map[domain.InteractionKind]partnersv1.InteractionKind{
		domain.InteractionMeeting: partnersv1.InteractionKind_INTERACTION_KIND_MEETING, domain.InteractionCall: partnersv1.InteractionKind_INTERACTION_KIND_CALL,
		domain.InteractionEmail: partnersv1.InteractionKind_INTERACTION_KIND_EMAIL,
	}}
)

// PartnerKindToProto converts a partner kind.
func PartnerKindToProto(k domain.PartnerKind) partnersv1.PartnerKind { return partnerKinds.toProto(k) }

// PartnerKindFromProto reads a partner kind; unspecified and unknown values
// read as an invalid kind, which validation names.
func PartnerKindFromProto(k partnersv1.PartnerKind) domain.PartnerKind {
	d, _ := partnerKinds.fromProto(k)
	return d
}

// StatusToProto converts a pipeline status.
func StatusToProto(s domain.Status) partnersv1.PartnerStatus { return statuses.toProto(s) }

// StatusFromProto reads a pipeline status.
func StatusFromProto(s partnersv1.PartnerStatus) (domain.Status, bool) { return statuses.fromProto(s) }

// QuadrantToProto converts a quadrant.
func QuadrantToProto(q domain.Quadrant) partnersv1.Quadrant { return quadrants.toProto(q) }

// AgreementKindToProto converts an agreement kind.
func AgreementKindToProto(k domain.AgreementKind) partnersv1.AgreementKind {
	return agreementKinds.toProto(k)
}

// AgreementKindFromProto reads an agreement kind.
func AgreementKindFromProto(k partnersv1.AgreementKind) domain.AgreementKind {
	d, _ := agreementKinds.fromProto(k)
	return d
}

// AgreementStatusToProto converts an agreement status.
func AgreementStatusToProto(s domain.AgreementStatus) partnersv1.AgreementStatus {
	return agreementStatuses.toProto(s)
}

// AgreementStatusFromProto reads an agreement status.
func AgreementStatusFromProto(s partnersv1.AgreementStatus) (domain.AgreementStatus, bool) {
	return agreementStatuses.fromProto(s)
}

// ContributionKindToProto converts a contribution kind.
func ContributionKindToProto(k domain.ContributionKind) partnersv1.ContributionKind {
	return contributionKinds.toProto(k)
}

// ContributionKindFromProto reads a contribution kind.
func ContributionKindFromProto(k partnersv1.ContributionKind) domain.ContributionKind {
	d, _ := contributionKinds.fromProto(k)
	return d
}

// InteractionKindToProto converts an interaction kind.
func InteractionKindToProto(k domain.InteractionKind) partnersv1.InteractionKind {
	return interactionKinds.toProto(k)
}

// InteractionKindFromProto reads an interaction kind.
func InteractionKindFromProto(k partnersv1.InteractionKind) domain.InteractionKind {
	d, _ := interactionKinds.fromProto(k)
	return d
}

// MoneyToProto converts an amount; nil for no value.
func MoneyToProto(m domain.Money) *partnersv1.Money {
	if m.IsZero() {
		return nil
	}
	return &partnersv1.Money{CurrencyCode: m.Currency, AmountMinor: m.Minor}
}

// MoneyFromProto reads an amount; nil reads as no value.
func MoneyFromProto(m *partnersv1.Money) domain.Money {
	return domain.Money{Currency: m.GetCurrencyCode(), Minor: m.GetAmountMinor()}
}

// PartnerToProto converts a partner.
func PartnerToProto(p domain.Partner) *partnersv1.Partner {
	s := p.Stakeholder
	return &partnersv1.Partner{
		Id: p.ID, Community: p.Community, Name: p.Name, Kind: PartnerKindToProto(p.Kind), Sector: p.Sector, Website: p.Website,
		CountryCode: p.CountryCode, Status: StatusToProto(p.Status),
		Stakeholder: &partnersv1.Stakeholder{Influence: int32(s.Influence), Interest: int32(s.Interest), Quadrant: QuadrantToProto(s.Quadrant()),
			OwnerId: s.OwnerID, NextReviewDate: s.NextReview.String()},
		AddedAt: timestamppb.New(p.AddedAt), UpdatedAt: timestamppb.New(p.UpdatedAt),
	}
}

// AgreementToProto converts an agreement.
func AgreementToProto(a domain.Agreement) *partnersv1.Agreement {
	return &partnersv1.Agreement{
		Id: a.ID, Community: a.Community, PartnerId: a.PartnerID, Kind: AgreementKindToProto(a.Kind), Title: a.Title,
		StartDate: a.Start.String(), EndDate: a.End.String(), Value: MoneyToProto(a.Value), Status: AgreementStatusToProto(a.Status),
		DocumentUrl: a.DocumentURL, SignedOn: a.SignedOn.String(), EndedOn: a.EndedOn.String(), TerminationReason: a.TerminationReason,
		CreatedAt: timestamppb.New(a.CreatedAt), UpdatedAt: timestamppb.New(a.UpdatedAt),
	}
}

// ContributionToProto converts a contribution.
func ContributionToProto(c domain.Contribution) *partnersv1.Contribution {
	return &partnersv1.Contribution{
		Id: c.ID, Community: c.Community, PartnerId: c.PartnerID, Kind: ContributionKindToProto(c.Kind), Date: c.Date.String(),
		Description: c.Description, Value: MoneyToProto(c.Value), VolunteerMinutes: c.VolunteerMinutes, EventId: c.EventID,
		Goal: c.Goal, MemberId: c.MemberID, RecordedAt: timestamppb.New(c.RecordedAt), RecordedBy: c.RecordedBy,
	}
}

// InteractionToProto converts an interaction.
func InteractionToProto(i domain.Interaction) *partnersv1.Interaction {
	return &partnersv1.Interaction{
		Id: i.ID, Community: i.Community, PartnerId: i.PartnerID, Kind: InteractionKindToProto(i.Kind), OccurredAt: timestamppb.New(i.OccurredAt),
		OrganiserIds: i.OrganiserIDs, ContactIds: i.ContactIDs, Notes: i.Notes, RecordedBy: i.RecordedBy, RecordedAt: timestamppb.New(i.RecordedAt),
	}
}
