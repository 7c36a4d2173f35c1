package journeysapi_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// expectations is the journeys API's access table, written out by hand:
// a procedure missing here fails the test. Columns: anonymous, organiser,
// staff, ambassador, member (each acting on their own record), platform
// admin, workload.
var expectations = authtest.Table{
	journeysv1connect.JourneysServiceStartOnboardingProcedure:        authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceGetJourneyProcedure:             authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceListJourneysProcedure:           authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceSignalJourneyProcedure:          authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceCancelJourneyProcedure:          authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceNominateAmbassadorProcedure:     authtest.Row(unauthenticated, allowed, denied, allowed, allowed, allowed, denied),
	journeysv1connect.JourneysServiceReviewNominationProcedure:       authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceListProgrammeProcedure:          authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceListNominationsProcedure:        authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	journeysv1connect.JourneysServiceGetDefinitionProcedure:          authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	journeysv1connect.JourneysServiceListDefinitionVersionsProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceDiffDefinitionsProcedure:        authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceSaveDefinitionProcedure:         authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	journeysv1connect.JourneysServicePublishDefinitionProcedure:      authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),
	journeysv1connect.JourneysServiceTestRunDefinitionProcedure:      authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceSteerJourneysProcedure:          authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceMigrateJourneysProcedure:        authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	auditv1connect.AuditServiceListAuditEntriesProcedure:             authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
}

// row fills a table row: bad tokens are unauthenticated and another
// community's organiser is denied.

func TestEveryRPCIsGuarded(t *testing.T) {
	svc := journeysv1.File_kinship_journeys_v1_journeys_proto.Services().ByName("JourneysService")
	audits := auditv1.File_kinship_audit_v1_audit_proto.Services().ByName("AuditService")
	authtest.CheckCovered(t, journeysapi.Policy(), expectations, svc, audits)

	f := start(t)
	const self = "org-member" // the programme's reviewer
	tokens := f.issuer.Tokens(t, "demo", self)
	for procedure, want := range expectations {
		for _, caller := range authtest.Callers(false) { // API keys: verified by the members service, tested end to end in test/e2e
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				var got string
				if procedure == journeysv1connect.JourneysServiceStartOnboardingProcedure {
					got = callStream(t, f.url, tokens[caller])
				} else {
					body := map[string]any{"community": "demo", "memberId": self}
					switch procedure {
					case journeysv1connect.JourneysServiceSignalJourneyProcedure:
						body["signal"] = "JOURNEY_SIGNAL_PAUSE"
					case journeysv1connect.JourneysServiceReviewNominationProcedure:
						body["decision"] = "REVIEW_DECISION_APPROVE"
					}
					got = authtest.Call(t, f.url+procedure, tokens[caller], body)
				}
				authtest.CheckGuard(t, procedure, caller, got, want[caller])
			})
		}
	}
}

// callStream calls StartOnboarding with a typed client.
func callStream(t *testing.T, url, token string) string {
	t.Helper()
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, authtest.Bearer(token))
	}
	c := journeysv1connect.NewJourneysServiceClient(http.DefaultClient, url, opts...)
	stream, err := c.StartOnboarding(context.Background(), connect.NewRequest(&journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"ghost"}}))
	if err == nil {
		for stream.Receive() {
		}
		err = stream.Err()
	}
	if err == nil {
		return "ok"
	}
	return connect.CodeOf(err).String()
}
