package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
)

// Catalogue says what each RPC of the members service that changes data
// records in the audit log, in the same transaction as the change (ids
// only, never personal data). A call that changes nothing records nothing:
// a repeated join told nobody, a second revocation, a confirmation of a
// confirmed address, an activity recorded before, a key used within the
// last minute.
func Catalogue() audit.Catalogue {
	return audit.Catalogue{
		// Public joins are recorded as anonymous, the team's as the caller.
		// A join with a member's address records member.join_repeated when
		// the member is told (at most once a day).
		membersv1connect.MembersServiceJoinCommunityProcedure:              {"member.joined"},
		membersv1connect.MembersServiceUpdateProfileProcedure:              {"member.profile_updated"},
		membersv1connect.MembersServiceChangeStatusProcedure:               {"member.status_changed"},
		membersv1connect.MembersServiceLeaveCommunityProcedure:             {"member.left"},
		membersv1connect.MembersServiceRecordConsentProcedure:              {"consent.recorded"},
		membersv1connect.MembersServiceAssignRoleProcedure:                 {"role.assigned"},
		membersv1connect.MembersServiceRevokeRoleProcedure:                 {"role.revoked"},
		membersv1connect.MembersServiceMergeMembersProcedure:               {"member.merged"},
		membersv1connect.MembersServiceEraseMemberProcedure:                {"member.erased"},
		membersv1connect.MembersServiceImportMembersProcedure:              {"members.imported"}, // one per batch of 500 rows
		membersv1connect.MembersServiceConfirmEmailProcedure:               {"member.email_confirmed"},
		membersv1connect.SegmentsServiceCreateSegmentProcedure:             {"segment.created"},
		membersv1connect.SegmentsServiceDeleteSegmentProcedure:             {"segment.deleted"},
		membersv1connect.EngagementServiceRecordActivityProcedure:          {"activity.recorded"},
		membersv1connect.EngagementServiceReviewLevelsProcedure:            {"levels.reviewed"},
		membersv1connect.EngagementServiceRecomputeLevelsProcedure:         {"levels.recomputed"},
		membersv1connect.EngagementServiceUpdateCommunitySettingsProcedure: {"settings.updated"},
		membersv1connect.AccessServiceCreateAPIKeyProcedure:                {"api_key.created"},
		membersv1connect.AccessServiceRevokeAPIKeyProcedure:                {"api_key.revoked"},
		// Activity sources and what organisers record in bulk; what a
		// source's webhook brings in is recorded as activities.ingested with
		// the source ("members/ingest/<name>") as the actor.
		membersv1connect.IntegrationsServiceCreateActivitySourceProcedure:       {"activity_source.created"},
		membersv1connect.IntegrationsServiceRotateActivitySourceSecretProcedure: {"activity_source.secret_rotated"},
		membersv1connect.IntegrationsServiceDeleteActivitySourceProcedure:       {"activity_source.deleted"},
		membersv1connect.IntegrationsServiceRecordActivitiesProcedure:           {"activities.recorded"},
		membersv1connect.IntegrationsServiceImportActivitiesProcedure:           {"activities.recorded"}, // one per batch of 500 rows
		membersv1connect.IntegrationsServiceLinkHandleProcedure:                 {"handle.linked"},
		membersv1connect.IntegrationsServiceUnlinkHandleProcedure:               {"handle.unlinked"},
		// Issued on first use only.
		membersv1connect.ReferralsServiceGetReferralCodeProcedure: {"referral.code_issued"},
		// The key is the actor; at most once a minute per key.
		membersv1connect.AccessServiceVerifyAPIKeyProcedure: {"api_key.used"},
	}
}
