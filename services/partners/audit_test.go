package partners_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/audit/audittest"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/services/partners/api"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

func TestTheCatalogueCoversEveryChange(t *testing.T) {
	var services []protoreflect.ServiceDescriptor
	for _, f := range []protoreflect.FileDescriptor{partnersv1.File_kinship_partners_v1_partners_proto, partnersv1.File_kinship_partners_v1_contacts_proto,
		partnersv1.File_kinship_partners_v1_agreements_proto, partnersv1.File_kinship_partners_v1_contributions_proto,
		partnersv1.File_kinship_partners_v1_reports_proto, partnersv1.File_kinship_partners_v1_attention_proto} {
		for i := range f.Services().Len() {
			services = append(services, f.Services().Get(i))
		}
	}
	audittest.CheckCovered(t, api.Catalogue(), services...)
}

// TestEveryChangeIsAudited performs each procedure that changes data, as
// the caller the policy allows, and reads the audit log back through the
// service's AuditService: each call recorded what the catalogue says,
// naming ids only — never a contact's name or address, notes or amounts.
func TestEveryChangeIsAudited(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	log := auditv1connect.NewAuditServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
	worker := partnersv1connect.NewContributionsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	catalogue := api.Catalogue()
	const name, email, notes = "Ada Lovelace", "ada@solar.example.org", "Ada mentioned her move"
	pii := []string{name, email, notes, "Solar Co-op", "Data sharing"}

	var partner, contact, agreement, later string
	draft := func(start string) (string, error) {
		res, err := s.agreements.CreateAgreement(ctx, connect.NewRequest(&partnersv1.CreateAgreementRequest{PartnerId: partner,
			Kind: partnersv1.AgreementKind_AGREEMENT_KIND_DATA_SHARING, Title: "Data sharing", StartDate: start, EndDate: "2026-12-31"}))
		return res.Msg.GetAgreement().GetId(), err
	}
	steps := []struct {
		procedure string
		want      []string
		call      func() error
	}{
		{partnersv1connect.PartnersServiceAddPartnerProcedure, []string{domain.ActionPartnerAdded}, func() error {
			partner = addPartner(t, s, "Solar Co-op").GetId()
			return nil
		}},
		{partnersv1connect.PartnersServiceUpdatePartnerProcedure, []string{domain.ActionPartnerUpdated}, func() error {
			_, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: partner,
				Partner: &partnersv1.Partner{Sector: "energy"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"sector"}}}))
			return err
		}},
		{partnersv1connect.PartnersServiceChangePartnerStatusProcedure, []string{domain.ActionPartnerStatusChanged}, func() error {
			_, err := s.partners.ChangePartnerStatus(ctx, connect.NewRequest(&partnersv1.ChangePartnerStatusRequest{Id: partner,
				Status: partnersv1.PartnerStatus_PARTNER_STATUS_IN_CONVERSATION, Note: notes}))
			return err
		}},
		{partnersv1connect.ContactsServiceAddContactProcedure, []string{domain.ActionContactAdded}, func() error {
			res, err := s.contacts.AddContact(ctx, connect.NewRequest(&partnersv1.AddContactRequest{PartnerId: partner, Name: name, Email: email}))
			contact = res.Msg.GetContact().GetId()
			return err
		}},
		{partnersv1connect.ContactsServiceUpdateContactProcedure, []string{domain.ActionContactUpdated}, func() error {
			_, err := s.contacts.UpdateContact(ctx, connect.NewRequest(&partnersv1.UpdateContactRequest{Id: contact,
				Contact: &partnersv1.Contact{Role: "Head of CSR"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"role"}}}))
			return err
		}},
		{partnersv1connect.ContactsServiceRecordContactConsentProcedure, []string{domain.ActionContactConsentRecorded}, func() error {
			_, err := s.contacts.RecordContactConsent(ctx, connect.NewRequest(&partnersv1.RecordContactConsentRequest{ContactId: contact,
				Granted: true, Source: "business-card", PolicyVersion: "2026-01"}))
			return err
		}},
		{partnersv1connect.PartnersServiceLogInteractionProcedure, []string{domain.ActionInteractionLogged}, func() error {
			_, err := s.partners.LogInteraction(ctx, connect.NewRequest(&partnersv1.LogInteractionRequest{PartnerId: partner,
				Kind: partnersv1.InteractionKind_INTERACTION_KIND_MEETING, OccurredAt: timestamppb.New(s.clock.Now()), OrganiserIds: []string{"organiser-1"},
				ContactIds: []string{contact}, Notes: notes}))
			return err
		}},
		{partnersv1connect.ContactsServiceEraseContactProcedure, []string{domain.ActionContactErased}, func() error {
			_, err := s.contacts.EraseContact(ctx, connect.NewRequest(&partnersv1.EraseContactRequest{ContactId: contact}))
			return err
		}},
		{partnersv1connect.AgreementsServiceCreateAgreementProcedure, []string{domain.ActionAgreementCreated}, func() (err error) {
			agreement, err = draft("2026-03-01")
			return err
		}},
		{partnersv1connect.AgreementsServiceUpdateAgreementProcedure, []string{domain.ActionAgreementUpdated}, func() error {
			_, err := s.agreements.UpdateAgreement(ctx, connect.NewRequest(&partnersv1.UpdateAgreementRequest{Id: agreement,
				Agreement: &partnersv1.Agreement{EndDate: "2026-11-30"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"end_date"}}}))
			return err
		}},
		{partnersv1connect.AgreementsServiceSignAgreementProcedure, []string{domain.ActionAgreementSigned}, func() error {
			_, err := s.agreements.SignAgreement(ctx, connect.NewRequest(&partnersv1.SignAgreementRequest{Id: agreement}))
			return err
		}},
		{partnersv1connect.AgreementsServiceActivateAgreementProcedure, []string{domain.ActionAgreementActivated}, func() error {
			_, err := s.agreements.ActivateAgreement(ctx, connect.NewRequest(&partnersv1.ActivateAgreementRequest{Id: agreement}))
			return err
		}},
		{partnersv1connect.AgreementsServiceRenewAgreementProcedure, []string{domain.ActionAgreementRenewed}, func() error {
			_, err := s.agreements.RenewAgreement(ctx, connect.NewRequest(&partnersv1.RenewAgreementRequest{Id: agreement, EndDate: "2027-11-30"}))
			return err
		}},
		{partnersv1connect.AgreementsServiceTerminateAgreementProcedure, []string{domain.ActionAgreementTerminated}, func() error {
			_, err := s.agreements.TerminateAgreement(ctx, connect.NewRequest(&partnersv1.TerminateAgreementRequest{Id: agreement, Reason: "Ended by both"}))
			return err
		}},
		{partnersv1connect.AgreementsServiceRunExpirySweepProcedure, []string{domain.ActionAgreementActivated}, func() (err error) {
			// A signed agreement whose term began: the sweep activates it.
			if later, err = draft("2026-03-10"); err != nil {
				return err
			}
			if _, err := s.agreements.SignAgreement(ctx, connect.NewRequest(&partnersv1.SignAgreementRequest{Id: later})); err != nil {
				return err
			}
			_, err = s.agreements.RunExpirySweep(ctx, connect.NewRequest(&partnersv1.RunExpirySweepRequest{}))
			return err
		}},
		{partnersv1connect.AttentionServiceAcknowledgeAttentionProcedure, []string{domain.ActionAttentionAcknowledged}, func() error {
			// A partner due for review is on the attention list after a sweep.
			if _, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: partner,
				Partner:    &partnersv1.Partner{Stakeholder: &partnersv1.Stakeholder{NextReviewDate: "2026-03-14"}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"stakeholder.next_review_date"}}})); err != nil {
				return err
			}
			if _, err := s.agreements.RunExpirySweep(ctx, connect.NewRequest(&partnersv1.RunExpirySweepRequest{})); err != nil {
				return err
			}
			attention := partnersv1connect.NewAttentionServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser)))
			items, err := attention.ListAttention(ctx, connect.NewRequest(&partnersv1.ListAttentionRequest{}))
			if err != nil || len(items.Msg.GetItems()) != 1 {
				return fmt.Errorf("attention list = %v, %v; want the partner due for review", items, err)
			}
			_, err = attention.AcknowledgeAttention(ctx, connect.NewRequest(&partnersv1.AcknowledgeAttentionRequest{Id: items.Msg.GetItems()[0].GetId()}))
			return err
		}},
		{partnersv1connect.ContributionsServiceRecordContributionProcedure, []string{domain.ActionContributionRecorded}, func() error {
			_, err := s.contributions.RecordContribution(ctx, connect.NewRequest(&partnersv1.RecordContributionRequest{PartnerId: partner,
				Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS, Date: "2026-03-10", VolunteerMinutes: 90, MemberId: "member-7"}))
			return err
		}},
		{partnersv1connect.ContributionsServiceForgetMemberProcedure, []string{domain.ActionMemberForgotten}, func() error {
			_, err := worker.ForgetMember(ctx, connect.NewRequest(&partnersv1.ForgetMemberRequest{Community: "demo", MemberId: "member-7"}))
			return err
		}},
	}
	done := map[string]bool{}
	for _, step := range steps {
		t.Run(step.procedure, func(t *testing.T) {
			for _, a := range step.want {
				if !slices.Contains(catalogue[step.procedure], a) {
					t.Fatalf("the test expects %q, which the catalogue does not list for %s", a, step.procedure)
				}
			}
			mark := audittest.Mark(t, log, "demo")
			if err := step.call(); err != nil {
				t.Fatalf("%s: %v", step.procedure, err)
			}
			mark.Expect(t, step.procedure, step.want, pii...)
			done[step.procedure] = true
		})
	}
	for procedure := range catalogue {
		if !done[procedure] {
			t.Errorf("%s is in the catalogue but was not performed here", procedure)
		}
	}

	t.Run("nothing changed, nothing recorded", func(t *testing.T) {
		mark := audittest.Mark(t, log, "demo")
		if _, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: partner,
			Partner: &partnersv1.Partner{Sector: "energy"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"sector"}}})); err != nil {
			t.Fatal(err)
		}
		if _, err := s.agreements.RunExpirySweep(ctx, connect.NewRequest(&partnersv1.RunExpirySweepRequest{})); err != nil {
			t.Fatal(err)
		}
		if got := mark.Since(t); len(got) != 0 {
			var actions []string
			for _, e := range got {
				actions = append(actions, e.GetAction())
			}
			t.Errorf("calls that changed nothing recorded %v", actions)
		}
	})
	t.Run("a refused change records nothing", func(t *testing.T) {
		mark := audittest.Mark(t, log, "demo")
		_, err := s.contributions.RecordContribution(ctx, connect.NewRequest(&partnersv1.RecordContributionRequest{PartnerId: partner,
			Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS, Date: "2026-03-10", VolunteerMinutes: 90, MemberId: "nobody-at-all"}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("contribution by nobody = %v", err)
		}
		if got := mark.Since(t); len(got) != 0 {
			t.Errorf("a refused call recorded %d entries", len(got))
		}
	})
}
