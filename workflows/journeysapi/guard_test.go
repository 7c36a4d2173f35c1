package journeysapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// Who calls, in the guard table's columns. API keys are verified by the
// members service, as for the services (tested end to end in test/e2e).
var callers = []string{"none", "expired", "wrong-audience", "other-community",
	"organiser", "staff", "ambassador", "member", "platform-admin", "workload"}

// expectations is the journeys API's access table, written out by hand:
// a procedure missing here fails the test. Columns: anonymous, organiser,
// staff, ambassador, member (each acting on their own record), platform
// admin, workload.
var expectations = map[string]map[string]string{
	journeysv1connect.JourneysServiceStartOnboardingProcedure:    row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceGetJourneyProcedure:         row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceListJourneysProcedure:       row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceSignalJourneyProcedure:      row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceCancelJourneyProcedure:      row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceNominateAmbassadorProcedure: row(unauthenticated, allowed, denied, allowed, allowed, allowed, denied),
	journeysv1connect.JourneysServiceReviewNominationProcedure:   row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	journeysv1connect.JourneysServiceListProgrammeProcedure:      row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
}

// row fills a table row: bad tokens are unauthenticated and another
// community's organiser is denied.
func row(none, organiser, staff, ambassador, member, admin, workload string) map[string]string {
	return map[string]string{
		"none": none, "expired": unauthenticated, "wrong-audience": unauthenticated, "other-community": denied,
		"organiser": organiser, "staff": staff, "ambassador": ambassador, "member": member,
		"platform-admin": admin, "workload": workload,
	}
}

func TestEveryRPCIsGuarded(t *testing.T) {
	svc := journeysv1.File_kinship_journeys_v1_journeys_proto.Services().ByName("JourneysService")
	if missing := journeysapi.Policy().Missing([]protoreflect.ServiceDescriptor{svc}...); len(missing) > 0 {
		t.Errorf("procedures without a policy entry: %v", missing)
	}
	for i := range svc.Methods().Len() {
		procedure := "/" + string(svc.FullName()) + "/" + string(svc.Methods().Get(i).Name())
		if _, ok := expectations[procedure]; !ok {
			t.Errorf("%s has no row in the guard table", procedure)
		}
	}

	f := start(t)
	const self = "org-member" // the programme's reviewer
	tokens := map[string]string{
		"expired":         f.issuer.Token(t, localissuer.Claims{Subject: "late", Community: "demo", Roles: []string{"organiser"}, IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour}),
		"wrong-audience":  f.issuer.Token(t, localissuer.Claims{Subject: "x", Community: "demo", Roles: []string{"organiser"}, Audience: "another-app"}),
		"other-community": f.issuer.For(t, "other", auth.Organiser),
		"platform-admin":  f.issuer.Token(t, localissuer.Claims{Subject: "root", Roles: []string{"platform-admin"}}),
		"workload":        f.issuer.Workload(t),
	}
	for _, role := range []auth.Role{auth.Organiser, auth.Staff, auth.Ambassador, auth.Member} {
		tokens[string(role)] = f.issuer.Token(t, localissuer.Claims{Subject: "u-" + string(role), Community: "demo", Roles: []string{string(role)}, MemberID: self})
	}
	for procedure, want := range expectations {
		for _, caller := range callers {
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
