package partners_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
)

// answer is a Connect JSON error (or "ok") as it comes over the wire.
type answer struct {
	code, body string
	fields     []string
}

// post sends body as Connect JSON to procedure with token.
func post(t *testing.T, url, procedure, token string, body map[string]any) answer {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url+procedure, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		return answer{code: "ok", body: string(out)}
	}
	var e struct {
		Code    string
		Details []struct{ Type, Value string }
	}
	_ = json.Unmarshal(out, &e)
	a := answer{code: e.Code, body: string(out)}
	for _, d := range e.Details {
		raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(d.Value, "="))
		var br errdetails.BadRequest
		if d.Type != "google.rpc.BadRequest" || err != nil || proto.Unmarshal(raw, &br) != nil {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			a.fields = append(a.fields, v.GetField())
		}
	}
	return a
}

// otherRegister is another community's partner register: a partner with
// a contact, agreements, a contribution and an interaction.
type otherRegister struct {
	partner, contact, draft, signed string
	// attention is an item on other's attention list.
	attention     string
	secrets       []string
	partners      partnersv1connect.PartnersServiceClient
	contacts      partnersv1connect.ContactsServiceClient
	agreements    partnersv1connect.AgreementsServiceClient
	contributions partnersv1connect.ContributionsServiceClient
}

func setUpOther(t *testing.T, s *service) otherRegister {
	t.Helper()
	ctx := context.Background()
	tok := authtest.Bearer(s.issuer.For(t, "other", auth.Organiser))
	o := otherRegister{partners: partnersv1connect.NewPartnersServiceClient(http.DefaultClient, s.url, tok),
		contacts:      partnersv1connect.NewContactsServiceClient(http.DefaultClient, s.url, tok),
		agreements:    partnersv1connect.NewAgreementsServiceClient(http.DefaultClient, s.url, tok),
		contributions: partnersv1connect.NewContributionsServiceClient(http.DefaultClient, s.url, tok)}
	o.secrets = []string{"Other's secret foundation", "Bea Secret", "bea@other.example", "Secret grant", "a secret gift", "secret notes"}
	p, err := o.partners.AddPartner(ctx, connect.NewRequest(&partnersv1.AddPartnerRequest{Community: "other", Name: o.secrets[0],
		Kind: partnersv1.PartnerKind_PARTNER_KIND_NGO}))
	if err != nil {
		t.Fatal(err)
	}
	o.partner = p.Msg.GetPartner().GetId()
	c, err := o.contacts.AddContact(ctx, connect.NewRequest(&partnersv1.AddContactRequest{Community: "other", PartnerId: o.partner,
		Name: o.secrets[1], Email: o.secrets[2], Primary: true}))
	if err != nil {
		t.Fatal(err)
	}
	o.contact = c.Msg.GetContact().GetId()
	agreement := func() string {
		a, err := o.agreements.CreateAgreement(ctx, connect.NewRequest(&partnersv1.CreateAgreementRequest{Community: "other", PartnerId: o.partner,
			Kind: partnersv1.AgreementKind_AGREEMENT_KIND_MOU, Title: o.secrets[3], StartDate: "2026-04-01", EndDate: "2026-12-31"}))
		if err != nil {
			t.Fatal(err)
		}
		return a.Msg.GetAgreement().GetId()
	}
	o.draft, o.signed = agreement(), agreement()
	if _, err := o.agreements.SignAgreement(ctx, connect.NewRequest(&partnersv1.SignAgreementRequest{Community: "other", Id: o.signed})); err != nil {
		t.Fatal(err)
	}
	if _, err := o.contributions.RecordContribution(ctx, connect.NewRequest(&partnersv1.RecordContributionRequest{Community: "other",
		PartnerId: o.partner, Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_IN_KIND, Date: "2026-03-01", Description: o.secrets[4],
		Value: &partnersv1.Money{CurrencyCode: "EUR", AmountMinor: 5000}})); err != nil {
		t.Fatal(err)
	}
	if _, err := o.partners.LogInteraction(ctx, connect.NewRequest(&partnersv1.LogInteractionRequest{Community: "other", PartnerId: o.partner,
		Kind: partnersv1.InteractionKind_INTERACTION_KIND_CALL, OccurredAt: timestamppb.New(s.clock.Now()), ContactIds: []string{o.contact},
		Notes: o.secrets[5]})); err != nil {
		t.Fatal(err)
	}
	if _, err := o.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Community: "other", Id: o.partner,
		Partner:    &partnersv1.Partner{Stakeholder: &partnersv1.Stakeholder{NextReviewDate: "2026-03-01"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"stakeholder.next_review_date"}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := o.agreements.RunExpirySweep(ctx, connect.NewRequest(&partnersv1.RunExpirySweepRequest{Community: "other"})); err != nil {
		t.Fatal(err)
	}
	items, err := partnersv1connect.NewAttentionServiceClient(http.DefaultClient, s.url, tok).ListAttention(ctx,
		connect.NewRequest(&partnersv1.ListAttentionRequest{Community: "other"}))
	if err != nil || len(items.Msg.GetItems()) != 1 {
		t.Fatalf("other's attention list = %v, %v", items, err)
	}
	o.attention = items.Msg.GetItems()[0].GetId()
	return o
}

// TestAnotherCommunitysIdsAreNotFound is the attacker's side of finding 1
// for the partners service: an organiser of demo calls every RPC that
// takes an id, over HTTP, with ids of "other". An id naming what the call
// reads or changes is not found; an id naming what a new record would
// belong to (a partner, a contact) is a bad argument naming its field.
// Nothing of other's register comes back, and nothing there changes.
func TestAnotherCommunitysIdsAreNotFound(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	b := setUpOther(t, s)
	mine := addPartner(t, s, "Solar Co-op")
	organiser := s.issuer.For(t, "demo", auth.Organiser)
	const notFound, denied = "not_found", "permission_denied"
	met := s.clock.Now().Format(time.RFC3339)
	calls := []struct {
		name, procedure string
		body            map[string]any
		// want is the code, or the field a bad argument names.
		want string
	}{
		{"read another's partner", partnersv1connect.PartnersServiceGetPartnerProcedure, map[string]any{"id": b.partner}, notFound},
		{"rename another's partner", partnersv1connect.PartnersServiceUpdatePartnerProcedure,
			map[string]any{"id": b.partner, "partner": map[string]any{"name": "Taken over"}, "updateMask": "name"}, notFound},
		{"move another's partner", partnersv1connect.PartnersServiceChangePartnerStatusProcedure,
			map[string]any{"id": b.partner, "status": "PARTNER_STATUS_IN_CONVERSATION"}, notFound},
		{"log a meeting with another's partner", partnersv1connect.PartnersServiceLogInteractionProcedure,
			map[string]any{"partnerId": b.partner, "kind": "INTERACTION_KIND_MEETING", "occurredAt": met, "organiserIds": []string{"organiser-1"}}, "partner_id"},
		{"log a meeting with another's contact", partnersv1connect.PartnersServiceLogInteractionProcedure,
			map[string]any{"partnerId": mine.GetId(), "kind": "INTERACTION_KIND_MEETING", "occurredAt": met, "contactIds": []string{b.contact}}, "contact_ids"},
		{"list another's interactions", partnersv1connect.PartnersServiceListInteractionsProcedure, map[string]any{"partnerId": b.partner}, notFound},
		{"add a contact to another's partner", partnersv1connect.ContactsServiceAddContactProcedure,
			map[string]any{"partnerId": b.partner, "name": "Mallory"}, "partner_id"},
		{"read another's contact", partnersv1connect.ContactsServiceGetContactProcedure, map[string]any{"id": b.contact}, notFound},
		{"list another's contacts", partnersv1connect.ContactsServiceListContactsProcedure, map[string]any{"partnerId": b.partner}, notFound},
		{"change another's contact", partnersv1connect.ContactsServiceUpdateContactProcedure,
			map[string]any{"id": b.contact, "contact": map[string]any{"email": "mallory@example.org"}, "updateMask": "email"}, notFound},
		{"record another's contact's consent", partnersv1connect.ContactsServiceRecordContactConsentProcedure,
			map[string]any{"contactId": b.contact, "granted": true, "source": "form", "policyVersion": "v1"}, notFound},
		{"erase another's contact", partnersv1connect.ContactsServiceEraseContactProcedure, map[string]any{"contactId": b.contact}, notFound},
		{"draft an agreement with another's partner", partnersv1connect.AgreementsServiceCreateAgreementProcedure,
			map[string]any{"partnerId": b.partner, "kind": "AGREEMENT_KIND_MOU", "title": "MoU", "startDate": "2026-04-01"}, "partner_id"},
		{"read another's agreement", partnersv1connect.AgreementsServiceGetAgreementProcedure, map[string]any{"id": b.signed}, notFound},
		{"list another's partner's agreements", partnersv1connect.AgreementsServiceListAgreementsProcedure, map[string]any{"partnerId": b.partner}, notFound},
		{"change another's draft", partnersv1connect.AgreementsServiceUpdateAgreementProcedure,
			map[string]any{"id": b.draft, "agreement": map[string]any{"title": "Taken over"}, "updateMask": "title"}, notFound},
		{"sign another's draft", partnersv1connect.AgreementsServiceSignAgreementProcedure, map[string]any{"id": b.draft}, notFound},
		{"activate another's agreement", partnersv1connect.AgreementsServiceActivateAgreementProcedure, map[string]any{"id": b.signed}, notFound},
		{"renew another's agreement", partnersv1connect.AgreementsServiceRenewAgreementProcedure,
			map[string]any{"id": b.signed, "endDate": "2027-12-31"}, notFound},
		{"terminate another's agreement", partnersv1connect.AgreementsServiceTerminateAgreementProcedure,
			map[string]any{"id": b.signed, "reason": "Taken over"}, notFound},
		{"record a contribution of another's partner", partnersv1connect.ContributionsServiceRecordContributionProcedure,
			map[string]any{"partnerId": b.partner, "kind": "CONTRIBUTION_KIND_VOLUNTEER_HOURS", "date": "2026-03-01", "volunteerMinutes": 60}, "partner_id"},
		{"list another's partner's contributions", partnersv1connect.ContributionsServiceListContributionsProcedure,
			map[string]any{"partnerId": b.partner}, notFound},
		{"total another's partner's contributions", partnersv1connect.ReportsServiceContributionTotalsProcedure,
			map[string]any{"partnerId": b.partner, "groupBy": "GROUP_BY_PARTNER"}, notFound},
		{"forget a member", partnersv1connect.ContributionsServiceForgetMemberProcedure, map[string]any{"memberId": "member-7"}, denied},
		{"acknowledge another's attention item", partnersv1connect.AttentionServiceAcknowledgeAttentionProcedure, map[string]any{"id": b.attention}, notFound},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			c.body["community"] = "demo"
			got := post(t, s.url, c.procedure, organiser, c.body)
			switch c.want {
			case notFound, denied:
				if got.code != c.want {
					t.Errorf("%s = %s %s, want %s", c.procedure, got.code, got.body, c.want)
				}
			default:
				if got.code != "invalid_argument" || !slices.Equal(got.fields, []string{c.want}) {
					t.Errorf("%s = %s %v %s, want invalid_argument on %s", c.procedure, got.code, got.fields, got.body, c.want)
				}
			}
			for _, secret := range b.secrets {
				if strings.Contains(got.body, secret) {
					t.Errorf("%s answered with other's data %q", c.procedure, secret)
				}
			}
		})
	}
	t.Run("export another's partner's contributions", func(t *testing.T) {
		stream, err := s.reports.ExportReport(ctx, connect.NewRequest(&partnersv1.ExportReportRequest{Community: "demo",
			Report: partnersv1.ReportKind_REPORT_KIND_CONTRIBUTIONS, PartnerId: b.partner}))
		var out bytes.Buffer
		if err == nil {
			for stream.Receive() {
				out.Write(stream.Msg().GetChunk())
			}
			err = stream.Err()
		}
		if connect.CodeOf(err) != connect.CodeNotFound || out.Len() != 0 {
			t.Errorf("export = %v with %q, want NotFound and no rows", err, out.String())
		}
	})

	t.Run("other's register is unchanged", func(t *testing.T) {
		p, err := b.partners.GetPartner(ctx, connect.NewRequest(&partnersv1.GetPartnerRequest{Community: "other", Id: b.partner}))
		if err != nil || p.Msg.GetPartner().GetName() != b.secrets[0] || p.Msg.GetPartner().GetStatus() != partnersv1.PartnerStatus_PARTNER_STATUS_PROSPECT {
			t.Errorf("other's partner = %v, %v", p, err)
		}
		c, err := b.contacts.GetContact(ctx, connect.NewRequest(&partnersv1.GetContactRequest{Community: "other", Id: b.contact}))
		if err != nil || c.Msg.GetContact().GetEmail() != b.secrets[2] || c.Msg.GetContact().GetErased() || len(c.Msg.GetConsents()) != 0 {
			t.Errorf("other's contact = %v, %v", c, err)
		}
		for id, want := range map[string]partnersv1.AgreementStatus{b.draft: partnersv1.AgreementStatus_AGREEMENT_STATUS_DRAFT,
			b.signed: partnersv1.AgreementStatus_AGREEMENT_STATUS_SIGNED} {
			a, err := b.agreements.GetAgreement(ctx, connect.NewRequest(&partnersv1.GetAgreementRequest{Community: "other", Id: id}))
			if err != nil || a.Msg.GetAgreement().GetStatus() != want || a.Msg.GetAgreement().GetTitle() != b.secrets[3] || len(a.Msg.GetRenewals()) != 0 {
				t.Errorf("other's agreement = %v, %v", a, err)
			}
		}
		list, err := b.contributions.ListContributions(ctx, connect.NewRequest(&partnersv1.ListContributionsRequest{Community: "other"}))
		if err != nil || len(list.Msg.GetContributions()) != 1 {
			t.Errorf("other's contributions = %v, %v", list, err)
		}
		if n := s.count(t, "contributions WHERE community = 'demo'"); n != 0 {
			t.Errorf("contributions recorded in demo = %d", n)
		}
		if n := s.count(t, "contacts WHERE community = 'demo'"); n != 0 {
			t.Errorf("contacts added in demo = %d", n)
		}
	})
}
