package partners_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/services/partners/api"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// Who calls, in the guard table's columns.
var callers = []string{"none", "expired", "wrong-audience", "other-community", "api-key",
	"organiser", "staff", "ambassador", "member", "platform-admin", "workload"}

// expectations is the access table of the partners service, written out
// by hand: a procedure missing here fails TestEveryRPCIsGuarded. Columns:
// anonymous, organiser (and an organiser's API key), staff, ambassador,
// member, platform admin, workload.
var expectations = map[string]map[string]string{
	partnersv1connect.PartnersServiceAddPartnerProcedure:          row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.PartnersServiceGetPartnerProcedure:          row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.PartnersServiceListPartnersProcedure:        row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.PartnersServiceUpdatePartnerProcedure:       row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.PartnersServiceChangePartnerStatusProcedure: row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.PartnersServiceListDueForReviewProcedure:    row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.PartnersServiceLogInteractionProcedure:      row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.PartnersServiceListInteractionsProcedure:    row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),

	partnersv1connect.ContactsServiceAddContactProcedure:           row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceGetContactProcedure:           row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceListContactsProcedure:         row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceUpdateContactProcedure:        row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceRecordContactConsentProcedure: row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceEraseContactProcedure:         row(unauthenticated, allowed, denied, denied, denied, allowed, denied),

	partnersv1connect.AgreementsServiceCreateAgreementProcedure:    row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceGetAgreementProcedure:       row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.AgreementsServiceListAgreementsProcedure:     row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.AgreementsServiceUpdateAgreementProcedure:    row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceSignAgreementProcedure:      row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceActivateAgreementProcedure:  row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceRenewAgreementProcedure:     row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceTerminateAgreementProcedure: row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceRunExpirySweepProcedure:     row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),

	partnersv1connect.ContributionsServiceRecordContributionProcedure: row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContributionsServiceListContributionsProcedure:  row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContributionsServiceForgetMemberProcedure:       row(unauthenticated, denied, denied, denied, denied, allowed, allowed),

	partnersv1connect.ReportsServiceStakeholderGridProcedure:    row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ReportsServiceContributionTotalsProcedure: row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ReportsServiceExpiringAgreementsProcedure: row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.ReportsServiceExportReportProcedure:       row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
}

// row fills a table row: anonymous callers get none, bad tokens are
// unauthenticated, another community's organiser is denied, the API key
// (an organiser key) is treated as an organiser, and the roles follow.
func row(none, organiser, staff, ambassador, member, admin, workload string) map[string]string {
	return map[string]string{
		"none": none, "expired": unauthenticated, "wrong-audience": unauthenticated, "other-community": denied,
		"api-key": organiser, "organiser": organiser, "staff": staff, "ambassador": ambassador, "member": member,
		"platform-admin": admin, "workload": workload,
	}
}

// fakeAccess stands in for the members service's AccessService: it knows
// one organiser key of demo.
type fakeAccess struct {
	membersv1connect.UnimplementedAccessServiceHandler
	key string
}

func (f fakeAccess) VerifyAPIKey(_ context.Context, req *connect.Request[membersv1.VerifyAPIKeyRequest]) (*connect.Response[membersv1.VerifyAPIKeyResponse], error) {
	if req.Msg.GetKey() != f.key {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown key"))
	}
	return connect.NewResponse(&membersv1.VerifyAPIKeyResponse{KeyId: "key-1", Community: "demo", Roles: []string{"organiser"}}), nil
}

func TestEveryRPCIsGuarded(t *testing.T) {
	files := []protoreflect.FileDescriptor{partnersv1.File_kinship_partners_v1_partners_proto, partnersv1.File_kinship_partners_v1_contacts_proto,
		partnersv1.File_kinship_partners_v1_agreements_proto, partnersv1.File_kinship_partners_v1_contributions_proto,
		partnersv1.File_kinship_partners_v1_reports_proto}
	var services []protoreflect.ServiceDescriptor
	for _, f := range files {
		for i := range f.Services().Len() {
			services = append(services, f.Services().Get(i))
		}
	}
	if missing := api.Policy().Missing(services...); len(missing) > 0 {
		t.Errorf("procedures without a policy entry: %v", missing)
	}
	procedures := 0
	for _, svc := range services {
		for i := range svc.Methods().Len() {
			procedures++
			procedure := "/" + string(svc.FullName()) + "/" + string(svc.Methods().Get(i).Name())
			if _, ok := expectations[procedure]; !ok {
				t.Errorf("%s has no row in the guard table", procedure)
			}
		}
	}
	if procedures != len(expectations) || len(api.Policy()) != len(expectations) {
		t.Errorf("%d procedures, %d policy entries, %d table rows", procedures, len(api.Policy()), len(expectations))
	}

	key, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	_, handler := membersv1connect.NewAccessServiceHandler(fakeAccess{key: key.Plain})
	members := httptest.NewServer(handler)
	t.Cleanup(members.Close)
	s := start(t, func(s *service) { s.membersURL = members.URL })
	p := addPartner(t, s, "Solar Co-op")

	tokens := map[string]string{
		"expired":         s.issuer.Token(t, localissuer.Claims{Subject: "late", Community: "demo", Roles: []string{"organiser"}, IssuedAt: time.Now().Add(-2 * time.Hour), TTL: time.Hour}),
		"wrong-audience":  s.issuer.Token(t, localissuer.Claims{Subject: "x", Community: "demo", Roles: []string{"organiser"}, Audience: "another-app"}),
		"other-community": s.issuer.For(t, "other", auth.Organiser),
		"api-key":         key.Plain,
		"platform-admin":  s.issuer.Token(t, localissuer.Claims{Subject: "root", Roles: []string{"platform-admin"}}),
		"workload":        s.issuer.Workload(t),
	}
	for _, role := range []auth.Role{auth.Organiser, auth.Staff, auth.Ambassador, auth.Member} {
		tokens[string(role)] = s.issuer.Token(t, localissuer.Claims{Subject: "u-" + string(role), Community: "demo", Roles: []string{string(role)}, MemberID: "m-1"})
	}

	for procedure, want := range expectations {
		for _, caller := range callers {
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				if procedure == partnersv1connect.ReportsServiceExportReportProcedure {
					authtest.CheckGuard(t, procedure, caller, export(s.url, tokens[caller]), want[caller])
					return
				}
				body := map[string]any{"community": "demo", "id": p.GetId(), "partnerId": p.GetId(), "contactId": "c-1"}
				authtest.CheckGuard(t, procedure, caller, authtest.Call(t, s.url+procedure, tokens[caller], body), want[caller])
			})
		}
	}
}

// export calls the streaming ExportReport with a typed client.
func export(url, token string) string {
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, authtest.Bearer(token))
	}
	c := partnersv1connect.NewReportsServiceClient(http.DefaultClient, url, opts...)
	stream, err := c.ExportReport(context.Background(), connect.NewRequest(&partnersv1.ExportReportRequest{Community: "demo",
		Report: partnersv1.ReportKind_REPORT_KIND_STAKEHOLDER_GRID}))
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
