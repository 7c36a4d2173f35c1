package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

// Catalogue says what each procedure that changes data records in the
// audit log, in the same transaction as its change: one entry per change,
// naming the partner, contact, agreement, contribution or interaction by
// id (an update that changes nothing records nothing). The expiry sweep
// records per agreement what it did to it, with the caller — or
// "partners/sweep" when it runs on its own — as the actor. Exporting a
// report changes no data and is recorded on its own, as
// partners.report_exported.
func Catalogue() audit.Catalogue {
	return audit.Catalogue{
		partnersv1connect.PartnersServiceAddPartnerProcedure:          {domain.ActionPartnerAdded},
		partnersv1connect.PartnersServiceUpdatePartnerProcedure:       {domain.ActionPartnerUpdated},
		partnersv1connect.PartnersServiceChangePartnerStatusProcedure: {domain.ActionPartnerStatusChanged},
		partnersv1connect.PartnersServiceLogInteractionProcedure:      {domain.ActionInteractionLogged},

		partnersv1connect.ContactsServiceAddContactProcedure:           {domain.ActionContactAdded},
		partnersv1connect.ContactsServiceUpdateContactProcedure:        {domain.ActionContactUpdated},
		partnersv1connect.ContactsServiceRecordContactConsentProcedure: {domain.ActionContactConsentRecorded},
		partnersv1connect.ContactsServiceEraseContactProcedure:         {domain.ActionContactErased},

		partnersv1connect.AgreementsServiceCreateAgreementProcedure:    {domain.ActionAgreementCreated},
		partnersv1connect.AgreementsServiceUpdateAgreementProcedure:    {domain.ActionAgreementUpdated},
		partnersv1connect.AgreementsServiceSignAgreementProcedure:      {domain.ActionAgreementSigned},
		partnersv1connect.AgreementsServiceActivateAgreementProcedure:  {domain.ActionAgreementActivated},
		partnersv1connect.AgreementsServiceRenewAgreementProcedure:     {domain.ActionAgreementRenewed},
		partnersv1connect.AgreementsServiceTerminateAgreementProcedure: {domain.ActionAgreementTerminated},
		// The sweep also keeps the attention list: an agreement announced
		// as expiring raises an item (owners told and escalations recorded
		// as attention.notified and attention.escalated, resolutions as
		// attention.resolved).
		partnersv1connect.AgreementsServiceRunExpirySweepProcedure: {domain.ActionAgreementActivated, domain.ActionAgreementExpired,
			domain.ActionAgreementExpiryAnnounced, domain.ActionAttentionRaised},
		partnersv1connect.AttentionServiceAcknowledgeAttentionProcedure: {domain.ActionAttentionAcknowledged},

		partnersv1connect.ContributionsServiceRecordContributionProcedure: {domain.ActionContributionRecorded},
		partnersv1connect.ContributionsServiceForgetMemberProcedure:       {domain.ActionMemberForgotten},
	}
}
