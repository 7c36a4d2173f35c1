package api

import (
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// Policy says who may call each RPC the communications service serves.
func Policy() auth.Policy {
	return auth.Policy{
		// Organisers and staff write to members; workflows send journey
		// e-mails.
		communicationsv1connect.CommunicationsServiceSendMessageProcedure: {Grants: map[auth.Role]auth.Scope{
			auth.Organiser: auth.ScopeCommunity, auth.Staff: auth.ScopeCommunity, auth.PlatformAdmin: auth.ScopeCommunity,
			auth.Workload: auth.ScopeCommunity,
		}},
	}
}
