package api

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/events"
)

func statusChangeToProto(sc domain.StatusChange) *partnersv1.StatusChange {
	return &partnersv1.StatusChange{FromStatus: events.StatusToProto(sc.From), ToStatus: events.StatusToProto(sc.To),
		ChangedAt: timestamppb.New(sc.ChangedAt), ChangedBy: sc.ChangedBy, Note: sc.Note}
}

func contactToProto(c domain.Contact) *partnersv1.Contact {
	out := &partnersv1.Contact{
		Id: c.ID, Community: c.Community, PartnerId: c.PartnerID, Name: c.Name, Email: c.Email, Phone: c.Phone, Role: c.Role,
		Primary: c.Primary, EmailConsent: c.EmailConsent, Erased: c.Erased, CreatedAt: timestamppb.New(c.CreatedAt),
	}
	if !c.ErasedAt.IsZero() {
		out.ErasedAt = timestamppb.New(c.ErasedAt)
	}
	return out
}

func renewalToProto(r domain.Renewal) *partnersv1.Renewal {
	return &partnersv1.Renewal{PreviousEndDate: r.PreviousEnd.String(), NewEndDate: r.NewEnd.String(),
		PreviousValue: events.MoneyToProto(r.PreviousValue), RenewedAt: timestamppb.New(r.RenewedAt), RenewedBy: r.RenewedBy}
}

func totalsToProto(t domain.Totals) []*partnersv1.CurrencyTotal {
	var out []*partnersv1.CurrencyTotal
	for _, m := range t.Sorted() {
		out = append(out, &partnersv1.CurrencyTotal{CurrencyCode: m.Currency, AmountMinor: m.Minor, Amount: domain.FormatMinor(m.Minor, m.Currency)})
	}
	return out
}

func groupToProto(g domain.ContributionGroup) *partnersv1.ContributionGroup {
	return &partnersv1.ContributionGroup{Key: g.Key, Label: g.Label, Contributions: g.Count, Money: totalsToProto(g.Money),
		InKind: totalsToProto(g.InKind), Total: totalsToProto(g.Total), VolunteerMinutes: g.VolunteerMinutes}
}

func consentToProto(r domain.ConsentRecord) *partnersv1.ContactConsentRecord {
	return &partnersv1.ContactConsentRecord{Granted: r.Granted, OccurredAt: timestamppb.New(r.OccurredAt), Source: r.Source, PolicyVersion: r.PolicyVersion}
}
