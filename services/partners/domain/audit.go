package domain

// Audit actions: what each change to the partner register records in the
// audit log, in the change's own transaction. An entry names the actor and
// the changed record by id only (a partner, a contact, an agreement, a
// contribution, an interaction, a member's pseudonymous id), never a
// name, an address, an amount or free text.
const (
	ActionPartnerAdded         = "partner.added"
	ActionPartnerUpdated       = "partner.updated"
	ActionPartnerStatusChanged = "partner.status_changed"
	ActionInteractionLogged    = "interaction.logged"

	ActionContactAdded           = "contact.added"
	ActionContactUpdated         = "contact.updated"
	ActionContactConsentRecorded = "contact.consent_recorded"
	ActionContactErased          = "contact.erased"

	ActionAgreementCreated         = "agreement.created"
	ActionAgreementUpdated         = "agreement.updated"
	ActionAgreementSigned          = "agreement.signed"
	ActionAgreementActivated       = "agreement.activated"
	ActionAgreementRenewed         = "agreement.renewed"
	ActionAgreementTerminated      = "agreement.terminated"
	ActionAgreementExpired         = "agreement.expired"
	ActionAgreementExpiryAnnounced = "agreement.expiry_announced"
	ActionContributionRecorded     = "contribution.recorded"
	ActionMemberForgotten          = "member.forgotten"
	// The attention list: raised, the owner notified, escalated to the
	// organisers, acknowledged, resolved.
	ActionAttentionRaised       = "attention.raised"
	ActionAttentionNotified     = "attention.notified"
	ActionAttentionEscalated    = "attention.escalated"
	ActionAttentionAcknowledged = "attention.acknowledged"
	ActionAttentionResolved     = "attention.resolved"
	// ActionMemberExported: a member's data was read out (subject access).
	ActionMemberExported = "member.exported"
	ActionReportExported = "partners.report_exported"
)

// Audit target types.
const (
	TargetPartner      = "partner"
	TargetContact      = "contact"
	TargetAgreement    = "agreement"
	TargetContribution = "contribution"
	TargetInteraction  = "interaction"
	TargetMember       = "member"
	TargetReport       = "report"
	TargetAttention    = "attention"
)
