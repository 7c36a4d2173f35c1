package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// Policy says who may call each RPC the members service serves.
func Policy() auth.Policy {
	organisers := map[auth.Role]auth.Scope{auth.Organiser: auth.ScopeCommunity, auth.PlatformAdmin: auth.ScopeCommunity}
	return auth.Policy{
		// Anyone may join; organisers and staff may add members for others
		// and are not held to the public rate limits.
		membersv1connect.MembersServiceJoinCommunityProcedure: {Public: true, Grants: map[auth.Role]auth.Scope{
			auth.Organiser: auth.ScopeCommunity, auth.Staff: auth.ScopeCommunity, auth.PlatformAdmin: auth.ScopeCommunity,
		}},
		// Members and ambassadors read their own record (ambassadors will
		// also see the members they buddy once buddies exist); workflows
		// read members to address them.
		membersv1connect.MembersServiceGetMemberProcedure: {Grants: map[auth.Role]auth.Scope{
			auth.Organiser: auth.ScopeCommunity, auth.Staff: auth.ScopeCommunity, auth.PlatformAdmin: auth.ScopeCommunity,
			auth.Ambassador: auth.ScopeSelf, auth.Member: auth.ScopeSelf, auth.Workload: auth.ScopeCommunity,
		}},
		membersv1connect.MembersServiceListMembersProcedure: {Grants: map[auth.Role]auth.Scope{
			auth.Organiser: auth.ScopeCommunity, auth.Staff: auth.ScopeCommunity, auth.PlatformAdmin: auth.ScopeCommunity,
		}},
		membersv1connect.AccessServiceCreateAPIKeyProcedure:     {Grants: organisers},
		membersv1connect.AccessServiceListAPIKeysProcedure:      {Grants: organisers},
		membersv1connect.AccessServiceRevokeAPIKeyProcedure:     {Grants: organisers},
		membersv1connect.AccessServiceListAuditEntriesProcedure: {Grants: organisers},
		// Other services resolve API keys presented to them.
		membersv1connect.AccessServiceVerifyAPIKeyProcedure: {Grants: map[auth.Role]auth.Scope{auth.Workload: auth.ScopeCommunity}},
	}
}
