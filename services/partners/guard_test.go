package partners_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/insights/insightstest"
	"github.com/kinshiphq/kinship/services/partners/api"
)

// Outcomes of a guarded call.
const (
	unauthenticated = authtest.Unauthenticated
	denied          = authtest.Denied
	allowed         = authtest.Allowed
)

// expectations is the access table of the partners service, written out
// by hand: a procedure missing here fails TestEveryRPCIsGuarded. Columns:
// anonymous, organiser (and an organiser's API key), staff, ambassador,
// member, platform admin, workload.
var expectations = authtest.Table{
	partnersv1connect.PartnersServiceAddPartnerProcedure:          authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.PartnersServiceGetPartnerProcedure:          authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.PartnersServiceListPartnersProcedure:        authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.PartnersServiceUpdatePartnerProcedure:       authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.PartnersServiceChangePartnerStatusProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.PartnersServiceListDueForReviewProcedure:    authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.PartnersServiceLogInteractionProcedure:      authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.PartnersServiceListInteractionsProcedure:    authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	// Everyone may export their own data; organisers anyone's.
	partnersv1connect.PartnersServiceExportMemberDataProcedure: authtest.Row(unauthenticated, allowed, allowed, allowed, allowed, allowed, denied),

	partnersv1connect.AttentionServiceListAttentionProcedure:        authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AttentionServiceAcknowledgeAttentionProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),

	partnersv1connect.ContactsServiceAddContactProcedure:           authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceGetContactProcedure:           authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceListContactsProcedure:         authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceUpdateContactProcedure:        authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceRecordContactConsentProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContactsServiceEraseContactProcedure:         authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),

	partnersv1connect.AgreementsServiceCreateAgreementProcedure:    authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceGetAgreementProcedure:       authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.AgreementsServiceListAgreementsProcedure:     authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.AgreementsServiceUpdateAgreementProcedure:    authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceSignAgreementProcedure:      authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceActivateAgreementProcedure:  authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceRenewAgreementProcedure:     authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceTerminateAgreementProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.AgreementsServiceRunExpirySweepProcedure:     authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, allowed),

	partnersv1connect.ContributionsServiceRecordContributionProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContributionsServiceListContributionsProcedure:  authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ContributionsServiceForgetMemberProcedure:       authtest.Row(unauthenticated, denied, denied, denied, denied, allowed, allowed),

	partnersv1connect.ReportsServiceStakeholderGridProcedure:    authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ReportsServiceContributionTotalsProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),
	partnersv1connect.ReportsServiceExpiringAgreementsProcedure: authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, allowed),
	partnersv1connect.ReportsServiceExportReportProcedure:       authtest.Row(unauthenticated, allowed, allowed, denied, denied, allowed, denied),

	auditv1connect.AuditServiceListAuditEntriesProcedure: authtest.Row(unauthenticated, allowed, denied, denied, denied, allowed, denied),
	insightsv1connect.HistoryServiceReadHistoryProcedure: authtest.Row(unauthenticated, denied, denied, denied, denied, allowed, allowed),
}

// row fills a table row: anonymous callers get none, bad tokens are
// unauthenticated, another community's organiser is denied, the API key
// (an organiser key) is treated as an organiser, and the roles follow.

func TestEveryRPCIsGuarded(t *testing.T) {
	files := []protoreflect.FileDescriptor{partnersv1.File_kinship_partners_v1_partners_proto, partnersv1.File_kinship_partners_v1_contacts_proto,
		partnersv1.File_kinship_partners_v1_agreements_proto, partnersv1.File_kinship_partners_v1_contributions_proto,
		partnersv1.File_kinship_partners_v1_reports_proto, partnersv1.File_kinship_partners_v1_attention_proto, auditv1.File_kinship_audit_v1_audit_proto, insightsv1.File_kinship_insights_v1_history_proto}
	var services []protoreflect.ServiceDescriptor
	for _, f := range files {
		for i := range f.Services().Len() {
			services = append(services, f.Services().Get(i))
		}
	}
	authtest.CheckCovered(t, api.Policy(), expectations, services...)

	s := start(t)
	p := addPartner(t, s, "Solar Co-op")

	tokens := s.issuer.Tokens(t, "demo", "m-1")
	tokens["api-key"] = s.apiKey

	for procedure, want := range expectations {
		for _, caller := range authtest.Callers(true) {
			t.Run(procedure+"/"+caller, func(t *testing.T) {
				if procedure == insightsv1connect.HistoryServiceReadHistoryProcedure {
					authtest.CheckGuard(t, procedure, caller, insightstest.ReadHistoryAs(s.url, tokens[caller]), want[caller])
					return
				}
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
