package partners_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/csvout"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/events"
)

func TestPipelineStakeholderMapAndReviews(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	staff := partnersv1connect.NewPartnersServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Staff)))
	res, err := s.partners.AddPartner(ctx, connect.NewRequest(&partnersv1.AddPartnerRequest{Name: "City Library", Kind: partnersv1.PartnerKind_PARTNER_KIND_PUBLIC_BODY}))
	if err != nil {
		t.Fatal(err)
	}
	p := res.Msg.GetPartner()
	if p.GetStakeholder().GetQuadrant() != partnersv1.Quadrant_QUADRANT_UNSPECIFIED {
		t.Errorf("an unassessed partner sits in %s", p.GetStakeholder().GetQuadrant())
	}
	move := func(c partnersv1connect.PartnersServiceClient, to partnersv1.PartnerStatus) {
		t.Helper()
		if _, err := c.ChangePartnerStatus(ctx, connect.NewRequest(&partnersv1.ChangePartnerStatusRequest{Id: p.GetId(), Status: to, Note: "next step"})); err != nil {
			t.Fatalf("move to %s: %v", to, err)
		}
	}
	move(s.partners, partnersv1.PartnerStatus_PARTNER_STATUS_IN_CONVERSATION)
	move(staff, partnersv1.PartnerStatus_PARTNER_STATUS_ACTIVE)
	_, err = s.partners.ChangePartnerStatus(ctx, connect.NewRequest(&partnersv1.ChangePartnerStatusRequest{Id: p.GetId(), Status: partnersv1.PartnerStatus_PARTNER_STATUS_PROSPECT}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "lapsed") {
		t.Errorf("active back to prospect = %v, want InvalidArgument naming where it may go", err)
	}
	got, err := s.partners.GetPartner(ctx, connect.NewRequest(&partnersv1.GetPartnerRequest{Id: p.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, h := range got.Msg.GetHistory() {
		who = append(who, h.GetToStatus().String()+" by "+h.GetChangedBy())
	}
	if !slices.Equal(who, []string{"PARTNER_STATUS_PROSPECT by test-demo", "PARTNER_STATUS_IN_CONVERSATION by test-demo", "PARTNER_STATUS_ACTIVE by test-demo"}) {
		t.Errorf("history = %v", who)
	}

	updated, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: p.GetId(),
		Partner:    &partnersv1.Partner{Name: "ignored", Stakeholder: &partnersv1.Stakeholder{Influence: 2, Interest: 5, NextReviewDate: "2026-03-10"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"stakeholder.influence", "stakeholder.interest", "stakeholder.next_review_date"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if u := updated.Msg.GetPartner(); u.GetName() != "City Library" || u.GetStakeholder().GetQuadrant() != partnersv1.Quadrant_QUADRANT_KEEP_INFORMED {
		t.Errorf("updated = %v", u)
	}
	// Nothing changes: no event.
	if _, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: p.GetId(),
		Partner: &partnersv1.Partner{Stakeholder: &partnersv1.Stakeholder{Influence: 2}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"stakeholder.influence"}}})); err != nil {
		t.Fatal(err)
	}
	sponsor := addPartner(t, s, "Solar Co-op") // influence 5, interest 4, review 1 April

	grid, err := s.reports.StakeholderGrid(ctx, connect.NewRequest(&partnersv1.StakeholderGridRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	placed := map[string][]string{}
	for _, q := range grid.Msg.GetQuadrants() {
		for _, gp := range q.GetPartners() {
			placed[q.GetQuadrant().String()] = append(placed[q.GetQuadrant().String()], gp.GetName())
		}
	}
	if len(grid.Msg.GetQuadrants()) != 4 || !slices.Equal(placed["QUADRANT_KEEP_INFORMED"], []string{"City Library"}) ||
		!slices.Equal(placed["QUADRANT_MANAGE_CLOSELY"], []string{"Solar Co-op"}) || len(grid.Msg.GetNotAssessed()) != 0 {
		t.Errorf("grid = %v", placed)
	}

	due, err := s.partners.ListDueForReview(ctx, connect.NewRequest(&partnersv1.ListDueForReviewRequest{}))
	if err != nil || len(due.Msg.GetPartners()) != 1 || due.Msg.GetPartners()[0].GetId() != p.GetId() {
		t.Errorf("due today (15 March) = %v, %v", due, err)
	}
	s.clock.Set("2026-04-01")
	due, err = s.partners.ListDueForReview(ctx, connect.NewRequest(&partnersv1.ListDueForReviewRequest{}))
	if err != nil || len(due.Msg.GetPartners()) != 2 || due.Msg.GetPartners()[1].GetId() != sponsor.GetId() {
		t.Errorf("due on 1 April = %v, %v", due, err)
	}
	csvText := exportCSV(t, s, &partnersv1.ExportReportRequest{Report: partnersv1.ReportKind_REPORT_KIND_DUE_FOR_REVIEW})
	if rows := parseCSV(t, csvText); len(rows) != 3 || rows[1][1] != "City Library" || rows[1][6] != "22" || rows[2][6] != "0" {
		t.Errorf("due-for-review CSV = %q", csvText)
	}

	want := []string{"PartnerAdded", "PartnerStatusChanged", "PartnerStatusChanged", "PartnerUpdated", "PartnerAdded"}
	evs := s.waitPublished(t)
	if !slices.Equal(types(evs), want) {
		t.Errorf("published %v, want %v", types(evs), want)
	}
	var upd partnersv1.PartnerUpdated
	if err := kafka.Decode(evs[3], events.TypePartnerUpdated, &upd); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(upd.GetChanged(), []string{"stakeholder.influence", "stakeholder.interest", "stakeholder.next_review_date"}) {
		t.Errorf("PartnerUpdated.changed = %v", upd.GetChanged())
	}
}

func TestContactsArePersonalData(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	p := addPartner(t, s, "Solar Co-op")
	const name, email, phone, notes = "Ada Lovelace", "ada@solar.example.org", "+49 30 1234567", "Ada mentioned her move to Lisbon"
	added, err := s.contacts.AddContact(ctx, connect.NewRequest(&partnersv1.AddContactRequest{PartnerId: p.GetId(), Name: name, Email: email,
		Phone: phone, Role: "Head of CSR", Primary: true, EmailConsent: true, ConsentSource: "business-card", PolicyVersion: "2026-01"}))
	if err != nil {
		t.Fatal(err)
	}
	c := added.Msg.GetContact()
	if !c.GetEmailConsent() || !c.GetPrimary() || c.GetEmail() != email {
		t.Errorf("added = %v", c)
	}
	if _, err := s.contacts.RecordContactConsent(ctx, connect.NewRequest(&partnersv1.RecordContactConsentRequest{ContactId: c.GetId(),
		Granted: false, Source: "phone-call", PolicyVersion: "2026-01"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.partners.LogInteraction(ctx, connect.NewRequest(&partnersv1.LogInteractionRequest{PartnerId: p.GetId(),
		Kind: partnersv1.InteractionKind_INTERACTION_KIND_MEETING, OccurredAt: timestamppb.New(s.clock.Now()), OrganiserIds: []string{"organiser-1"},
		ContactIds: []string{c.GetId()}, Notes: notes})); err != nil {
		t.Fatal(err)
	}
	read, err := s.contacts.GetContact(ctx, connect.NewRequest(&partnersv1.GetContactRequest{Id: c.GetId()}))
	if err != nil || read.Msg.GetContact().GetEmailConsent() || len(read.Msg.GetConsents()) != 2 || read.Msg.GetConsents()[0].GetSource() != "business-card" {
		t.Fatalf("GetContact = %v, %v", read, err)
	}

	member := partnersv1connect.NewContactsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Member)))
	if _, err := member.ListContacts(ctx, connect.NewRequest(&partnersv1.ListContactsRequest{PartnerId: p.GetId()})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a member listing contacts = %v, want PermissionDenied", err)
	}
	staff := partnersv1connect.NewContactsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "demo", auth.Staff)))
	if _, err := staff.EraseContact(ctx, connect.NewRequest(&partnersv1.EraseContactRequest{ContactId: c.GetId()})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("staff erasing = %v, want PermissionDenied", err)
	}
	erased, err := s.contacts.EraseContact(ctx, connect.NewRequest(&partnersv1.EraseContactRequest{ContactId: c.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if e := erased.Msg.GetContact(); !e.GetErased() || e.GetName()+e.GetEmail()+e.GetPhone()+e.GetRole() != "" || e.GetId() != c.GetId() {
		t.Errorf("erased = %v", e)
	}
	if _, err := s.contacts.EraseContact(ctx, connect.NewRequest(&partnersv1.EraseContactRequest{ContactId: c.GetId()})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("erasing twice = %v, want FailedPrecondition", err)
	}
	if _, err := s.contacts.UpdateContact(ctx, connect.NewRequest(&partnersv1.UpdateContactRequest{Id: c.GetId(), Contact: &partnersv1.Contact{Name: name},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("restoring an erased contact's name = %v, want FailedPrecondition", err)
	}
	list, err := s.contacts.ListContacts(ctx, connect.NewRequest(&partnersv1.ListContactsRequest{PartnerId: p.GetId()}))
	if err != nil || len(list.Msg.GetContacts()) != 0 {
		t.Errorf("contacts after erasure = %v, %v", list, err)
	}
	interactions, err := s.partners.ListInteractions(ctx, connect.NewRequest(&partnersv1.ListInteractionsRequest{PartnerId: p.GetId()}))
	if err != nil || len(interactions.Msg.GetInteractions()) != 1 || !slices.Equal(interactions.Msg.GetInteractions()[0].GetContactIds(), []string{c.GetId()}) {
		t.Errorf("the interaction lost its pseudonymous participant: %v, %v", interactions, err)
	}
	if n := s.count(t, "audit_log WHERE action = 'contact.erased'"); n != 1 {
		t.Errorf("erasure audit entries = %d, want 1", n)
	}

	evs := s.waitPublished(t)
	if !slices.Equal(types(evs), []string{"PartnerAdded", "InteractionLogged"}) {
		t.Errorf("published %v", types(evs))
	}
	secrets := []string{name, email, phone, "Lovelace", "Lisbon"}
	for _, e := range evs {
		for _, secret := range secrets {
			if bytes.Contains(e.Data, []byte(secret)) {
				t.Errorf("event %s carries %q", e.Type, secret)
			}
		}
	}
	logs := s.logs.String()
	if !strings.Contains(logs, c.GetId()) {
		t.Error("the logs do not name the contact by id; the check below proves nothing")
	}
	for _, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
	for _, span := range s.spans.Ended() {
		for _, a := range span.Attributes() {
			for _, secret := range secrets {
				if strings.Contains(a.Value.String(), secret) {
					t.Errorf("span %s attribute %s holds %q", span.Name(), a.Key, secret)
				}
			}
		}
	}
}

func TestExpirySweepAnnouncesEachThresholdOnceAcrossRestarts(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	p := addPartner(t, s, "Solar Co-op")
	create := func(start, end string) string {
		t.Helper()
		res, err := s.agreements.CreateAgreement(ctx, connect.NewRequest(&partnersv1.CreateAgreementRequest{PartnerId: p.GetId(),
			Kind: partnersv1.AgreementKind_AGREEMENT_KIND_SPONSORSHIP, Title: "Sponsorship", StartDate: start, EndDate: end,
			Value: &partnersv1.Money{CurrencyCode: "EUR", AmountMinor: 1_000_000}}))
		if err != nil {
			t.Fatal(err)
		}
		id := res.Msg.GetAgreement().GetId()
		if _, err := s.agreements.SignAgreement(ctx, connect.NewRequest(&partnersv1.SignAgreementRequest{Id: id})); err != nil {
			t.Fatal(err)
		}
		return id
	}
	ending := create("2026-01-01", "2026-04-30")
	later := create("2026-03-20", "2026-12-31")
	workload := partnersv1connect.NewAgreementsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	sweep := func() *partnersv1.RunExpirySweepResponse {
		t.Helper()
		res, err := workload.RunExpirySweep(ctx, connect.NewRequest(&partnersv1.RunExpirySweepRequest{Community: "demo"}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg
	}

	s.clock.Set("2026-03-31") // 30 days before the first ends
	// The sweep at start may have activated the first agreement already.
	if r := sweep(); r.GetToday() != "2026-03-31" || r.GetAnnounced() != 1 || r.GetActivated() < 1 {
		t.Errorf("first sweep = %v, want one announcement and the later agreement activated", r)
	}
	for _, id := range []string{ending, later} {
		got, err := s.agreements.GetAgreement(ctx, connect.NewRequest(&partnersv1.GetAgreementRequest{Id: id}))
		if err != nil || got.Msg.GetAgreement().GetStatus() != partnersv1.AgreementStatus_AGREEMENT_STATUS_ACTIVE {
			t.Errorf("agreement %s after its start = %v, %v; want active", id, got, err)
		}
	}
	if r := sweep(); r.GetAnnounced()+r.GetActivated()+r.GetExpired() != 0 {
		t.Errorf("second sweep the same day = %v, want nothing", r)
	}
	s.restart(t) // sweeps at start
	workload = partnersv1connect.NewAgreementsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	sweep()
	s.clock.Set("2026-04-23") // 7 days left
	s.restart(t)
	workload = partnersv1connect.NewAgreementsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	sweep()
	s.restart(t)
	workload = partnersv1connect.NewAgreementsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	s.clock.Set("2026-05-01") // the term is over
	// The restart's own sweep runs in the background and may see the new
	// date first: between it and this sweep the agreement expires once
	// (the AgreementEnded events are counted below), and then never again.
	if r := sweep(); r.GetExpired() > 1 {
		t.Errorf("sweep after the end = %v, want at most one expiry", r)
	}
	if r := sweep(); r.GetExpired() != 0 {
		t.Errorf("second sweep after the end = %v, want nothing", r)
	}

	// Delivery is at least once: a restart may publish an event again, under
	// the same CloudEvents id, which consumers skip. Count distinct events.
	expiring := map[string][]int32{}
	ended := 0
	seen := map[string]bool{}
	for _, e := range s.waitPublished(t) {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		switch e.Type {
		case events.TypeAgreementExpiring:
			var m partnersv1.AgreementExpiring
			if err := proto.Unmarshal(e.Data, &m); err != nil {
				t.Fatal(err)
			}
			expiring[m.GetAgreementId()] = append(expiring[m.GetAgreementId()], m.GetThresholdDays())
			if e.Key != p.GetId() {
				t.Errorf("AgreementExpiring keyed by %q, want the partner id", e.Key)
			}
		case events.TypeAgreementEnded:
			ended++
		}
	}
	if !slices.Equal(expiring[ending], []int32{30, 7}) || len(expiring[later]) != 0 {
		t.Errorf("AgreementExpiring thresholds = %v, want exactly [30 7] for the ending agreement", expiring)
	}
	if ended != 1 {
		t.Errorf("AgreementEnded events = %d, want 1", ended)
	}
	if n := s.count(t, "outbox WHERE event_type = '"+events.TypeAgreementExpiring+"'"); n != 2 {
		t.Errorf("AgreementExpiring events in the outbox = %d, want 2", n)
	}
	got, err := s.agreements.GetAgreement(ctx, connect.NewRequest(&partnersv1.GetAgreementRequest{Id: ending}))
	if err != nil || got.Msg.GetAgreement().GetStatus() != partnersv1.AgreementStatus_AGREEMENT_STATUS_EXPIRED || got.Msg.GetAgreement().GetEndedOn() != "2026-04-30" {
		t.Errorf("the ended agreement = %v, %v", got, err)
	}
}

func TestAgreementRenewalAndReports(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	p := addPartner(t, s, "Solar Co-op")
	res, err := s.agreements.CreateAgreement(ctx, connect.NewRequest(&partnersv1.CreateAgreementRequest{PartnerId: p.GetId(),
		Kind: partnersv1.AgreementKind_AGREEMENT_KIND_VENUE, Title: "Hall", StartDate: "2026-01-01", EndDate: "2026-04-01"}))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Msg.GetAgreement().GetId()
	if _, err := s.agreements.RenewAgreement(ctx, connect.NewRequest(&partnersv1.RenewAgreementRequest{Id: id, EndDate: "2026-12-31"})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("renewing a draft = %v, want FailedPrecondition", err)
	}
	if _, err := s.agreements.SignAgreement(ctx, connect.NewRequest(&partnersv1.SignAgreementRequest{Id: id, SignedOn: "2025-12-20"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.agreements.ActivateAgreement(ctx, connect.NewRequest(&partnersv1.ActivateAgreementRequest{Id: id})); err != nil {
		t.Fatal(err)
	}
	exp, err := s.reports.ExpiringAgreements(ctx, connect.NewRequest(&partnersv1.ExpiringAgreementsRequest{}))
	if err != nil || len(exp.Msg.GetAgreements()) != 1 || exp.Msg.GetAgreements()[0].GetDaysLeft() != 17 || exp.Msg.GetAgreements()[0].GetPartnerName() != "Solar Co-op" {
		t.Errorf("expiring in 30 days = %v, %v", exp, err)
	}
	renewed, err := s.agreements.RenewAgreement(ctx, connect.NewRequest(&partnersv1.RenewAgreementRequest{Id: id, EndDate: "2026-12-31",
		Value: &partnersv1.Money{CurrencyCode: "chf", AmountMinor: 120000}}))
	if err != nil {
		t.Fatal(err)
	}
	if a := renewed.Msg.GetAgreement(); a.GetEndDate() != "2026-12-31" || a.GetValue().GetCurrencyCode() != "CHF" || a.GetStatus() != partnersv1.AgreementStatus_AGREEMENT_STATUS_ACTIVE {
		t.Errorf("renewed = %v", a)
	}
	got, err := s.agreements.GetAgreement(ctx, connect.NewRequest(&partnersv1.GetAgreementRequest{Id: id}))
	if err != nil || len(got.Msg.GetRenewals()) != 1 || got.Msg.GetRenewals()[0].GetPreviousEndDate() != "2026-04-01" || got.Msg.GetRenewals()[0].GetRenewedBy() != "test-demo" {
		t.Errorf("renewals = %v, %v", got, err)
	}
	if exp, _ := s.reports.ExpiringAgreements(ctx, connect.NewRequest(&partnersv1.ExpiringAgreementsRequest{})); len(exp.Msg.GetAgreements()) != 0 {
		t.Errorf("after renewal, expiring = %v", exp.Msg)
	}
	csvText := exportCSV(t, s, &partnersv1.ExportReportRequest{Report: partnersv1.ReportKind_REPORT_KIND_EXPIRING_AGREEMENTS, WithinDays: 366})
	if rows := parseCSV(t, csvText); len(rows) != 2 || rows[1][8] != "291" || rows[1][9] != "CHF" || rows[1][10] != "1200.00" {
		t.Errorf("expiring CSV = %q", csvText)
	}
	if _, err := s.agreements.TerminateAgreement(ctx, connect.NewRequest(&partnersv1.TerminateAgreementRequest{Id: id, Reason: "Venue closed"})); err != nil {
		t.Fatal(err)
	}
	evs := s.waitPublished(t)
	if !slices.Equal(types(evs), []string{"PartnerAdded", "AgreementSigned", "AgreementSigned", "AgreementEnded"}) {
		t.Errorf("published %v", types(evs))
	}
	var signed partnersv1.AgreementSigned
	if err := kafka.Decode(evs[2], events.TypeAgreementSigned, &signed); err != nil || !signed.GetRenewal() || signed.GetEndDate() != "2026-12-31" {
		t.Errorf("renewal event = %v, %v", &signed, err)
	}
}

func TestContributionTotalsAreExactPerCurrencyAndExportAsCSV(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	a := addPartner(t, s, "Alpha Bank")
	b := addPartner(t, s, "Beta School")
	record := func(req *partnersv1.RecordContributionRequest) *partnersv1.Contribution {
		t.Helper()
		res, err := s.contributions.RecordContribution(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetContribution()
	}
	record(&partnersv1.RecordContributionRequest{PartnerId: a.GetId(), Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_MONEY, Date: "2026-01-15",
		Value: &partnersv1.Money{CurrencyCode: "EUR", AmountMinor: 125050}, Goal: "solar-roofs"})
	record(&partnersv1.RecordContributionRequest{PartnerId: a.GetId(), Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_MONEY, Date: "2026-02-01",
		Value: &partnersv1.Money{CurrencyCode: "JPY", AmountMinor: 5000}, Goal: "solar-roofs"})
	record(&partnersv1.RecordContributionRequest{PartnerId: b.GetId(), Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_IN_KIND, Date: "2026-03-01",
		Description: "=HYPERLINK(\"http://evil\")", Value: &partnersv1.Money{CurrencyCode: "EUR", AmountMinor: 9999}})
	volunteer := record(&partnersv1.RecordContributionRequest{PartnerId: b.GetId(), Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS,
		Date: "2026-03-10", VolunteerMinutes: 90, MemberId: "member-7", EventId: "event-3"})

	totals := func(by partnersv1.GroupBy, period partnersv1.Period) *partnersv1.ContributionTotalsResponse {
		t.Helper()
		res, err := s.reports.ContributionTotals(ctx, connect.NewRequest(&partnersv1.ContributionTotalsRequest{GroupBy: by, Period: period}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg
	}
	amounts := func(ts []*partnersv1.CurrencyTotal) []string {
		var out []string
		for _, c := range ts {
			out = append(out, c.GetCurrencyCode()+" "+c.GetAmount())
		}
		return out
	}
	byPartner := totals(partnersv1.GroupBy_GROUP_BY_PARTNER, 0)
	if len(byPartner.GetGroups()) != 2 || byPartner.GetGroups()[0].GetLabel() != "Alpha Bank" ||
		!slices.Equal(amounts(byPartner.GetGroups()[0].GetMoney()), []string{"EUR 1250.50", "JPY 5000"}) ||
		!slices.Equal(amounts(byPartner.GetGroups()[1].GetInKind()), []string{"EUR 99.99"}) || byPartner.GetGroups()[1].GetVolunteerMinutes() != 90 {
		t.Errorf("by partner = %v", byPartner.GetGroups())
	}
	if o := byPartner.GetOverall(); !slices.Equal(amounts(o.GetTotal()), []string{"EUR 1350.49", "JPY 5000"}) || o.GetContributions() != 4 ||
		o.GetTotal()[0].GetAmountMinor() != 135049 {
		t.Errorf("overall = %v", o)
	}
	var months []string
	for _, g := range totals(partnersv1.GroupBy_GROUP_BY_PERIOD, partnersv1.Period_PERIOD_MONTH).GetGroups() {
		months = append(months, g.GetKey())
	}
	if !slices.Equal(months, []string{"2026-01", "2026-02", "2026-03"}) {
		t.Errorf("months = %v", months)
	}
	if q := totals(partnersv1.GroupBy_GROUP_BY_PERIOD, partnersv1.Period_PERIOD_QUARTER).GetGroups(); len(q) != 1 || q[0].GetKey() != "2026-Q1" {
		t.Errorf("quarters = %v", q)
	}
	if g := totals(partnersv1.GroupBy_GROUP_BY_GOAL, 0).GetGroups(); len(g) != 2 || g[0].GetKey() != "solar-roofs" || g[1].GetLabel() != "no goal" ||
		!slices.Equal(amounts(g[0].GetMoney()), []string{"EUR 1250.50", "JPY 5000"}) {
		t.Errorf("by goal = %v", g)
	}
	_, err := s.reports.ContributionTotals(ctx, connect.NewRequest(&partnersv1.ContributionTotalsRequest{GroupBy: partnersv1.GroupBy_GROUP_BY_PERIOD}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "period") {
		t.Errorf("by period without a period = %v", err)
	}

	rows := parseCSV(t, exportCSV(t, s, &partnersv1.ExportReportRequest{Report: partnersv1.ReportKind_REPORT_KIND_CONTRIBUTIONS}))
	if len(rows) != 5 || rows[0][0] != "contribution_id" || rows[1][7] != "1250.50" || rows[1][8] != "125050" || rows[2][7] != "5000" {
		t.Errorf("contributions CSV = %v", rows)
	}
	// Every cell goes through the one CSV writer: a formula is shown as
	// text, and reads back as typed.
	if formula := `=HYPERLINK("http://evil")`; rows[3][5] != csvout.Neutralise(formula) || rows[3][5] == formula || csvout.Restore(rows[3][5]) != formula {
		t.Errorf("a formula reached the CSV unguarded: %q", rows[3][5])
	}
	if rows[4][9] != "90" || rows[4][12] != "member-7" {
		t.Errorf("volunteer row = %v", rows[4])
	}
	rows = parseCSV(t, exportCSV(t, s, &partnersv1.ExportReportRequest{Report: partnersv1.ReportKind_REPORT_KIND_CONTRIBUTION_TOTALS,
		GroupBy: partnersv1.GroupBy_GROUP_BY_PARTNER, FromDate: "2026-01-01", ToDate: "2026-01-31"}))
	if len(rows) != 3 || !slices.Equal(rows[1], []string{a.GetId(), "Alpha Bank", "EUR", "1250.50", "0.00", "1250.50", "1", "0"}) || rows[2][1] != "overall" {
		t.Errorf("totals CSV for January = %v", rows)
	}
	if n := s.count(t, "audit_log WHERE action = 'partners.report_exported'"); n != 2 {
		t.Errorf("export audit entries = %d, want 2", n)
	}

	var recorded []*partnersv1.ContributionRecorded
	for _, e := range s.waitPublished(t) {
		if e.Type == events.TypeContributionRecorded {
			parsed, err := events.DecodeContributionRecorded(kafka.Event{ID: e.ID, Type: e.Type, ContentType: e.ContentType, Data: e.Data})
			if err != nil {
				t.Fatal(err)
			}
			recorded = append(recorded, parsed)
		}
	}
	if len(recorded) != 4 {
		t.Fatalf("ContributionRecorded events = %d, want 4", len(recorded))
	}
	last := recorded[3]
	if last.GetContributionId() != volunteer.GetId() || last.GetMemberId() != "member-7" || last.GetOccurredAt().AsTime().Format("2006-01-02T15:04") != "2026-03-10T00:00" ||
		last.GetKind() != partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS || recorded[0].GetMemberId() != "" {
		t.Errorf("ContributionRecorded = %v", last)
	}
	list, err := s.contributions.ListContributions(ctx, connect.NewRequest(&partnersv1.ListContributionsRequest{PartnerId: b.GetId(), PageSize: 1}))
	if err != nil || len(list.Msg.GetContributions()) != 1 || list.Msg.GetNextPageToken() == "" {
		t.Errorf("first page = %v, %v", list, err)
	}
}

func exportCSV(t *testing.T, s *service, req *partnersv1.ExportReportRequest) string {
	t.Helper()
	stream, err := s.reports.ExportReport(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for stream.Receive() {
		out.Write(stream.Msg().GetChunk())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func parseCSV(t *testing.T, text string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, text)
	}
	return rows
}

func TestDraftsChangeUntilSignedAndPrimaryContactsTakeOver(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	p := addPartner(t, s, "Solar Co-op")
	other := addPartner(t, s, "Wind Co-op")
	created, err := s.agreements.CreateAgreement(ctx, connect.NewRequest(&partnersv1.CreateAgreementRequest{PartnerId: p.GetId(),
		Kind: partnersv1.AgreementKind_AGREEMENT_KIND_DATA_SHARING, Title: "Draft", StartDate: "2026-04-01"}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.GetAgreement().GetId()
	updated, err := s.agreements.UpdateAgreement(ctx, connect.NewRequest(&partnersv1.UpdateAgreementRequest{Id: id,
		Agreement:  &partnersv1.Agreement{Title: "Data sharing 2026", EndDate: "2026-12-31", Kind: partnersv1.AgreementKind_AGREEMENT_KIND_MOU},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "end_date"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if a := updated.Msg.GetAgreement(); a.GetTitle() != "Data sharing 2026" || a.GetEndDate() != "2026-12-31" || a.GetKind() != partnersv1.AgreementKind_AGREEMENT_KIND_DATA_SHARING {
		t.Errorf("updated draft = %v", a)
	}
	_, err = s.agreements.UpdateAgreement(ctx, connect.NewRequest(&partnersv1.UpdateAgreementRequest{Id: id,
		Agreement: &partnersv1.Agreement{EndDate: "2026-03-01"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"end_date"}}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "end_date") {
		t.Errorf("moving the end before the start = %v", err)
	}
	if _, err := s.agreements.SignAgreement(ctx, connect.NewRequest(&partnersv1.SignAgreementRequest{Id: id})); err != nil {
		t.Fatal(err)
	}
	_, err = s.agreements.UpdateAgreement(ctx, connect.NewRequest(&partnersv1.UpdateAgreementRequest{Id: id,
		Agreement: &partnersv1.Agreement{Title: "Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("retitling a signed agreement = %v, want FailedPrecondition", err)
	}
	relinked, err := s.agreements.UpdateAgreement(ctx, connect.NewRequest(&partnersv1.UpdateAgreementRequest{Id: id,
		Agreement: &partnersv1.Agreement{DocumentUrl: "https://docs.example.org/signed.pdf"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"document_url"}}}))
	if err != nil || relinked.Msg.GetAgreement().GetDocumentUrl() != "https://docs.example.org/signed.pdf" {
		t.Errorf("linking the signed document = %v, %v", relinked, err)
	}
	if _, err := s.agreements.CreateAgreement(ctx, connect.NewRequest(&partnersv1.CreateAgreementRequest{PartnerId: other.GetId(),
		Kind: partnersv1.AgreementKind_AGREEMENT_KIND_MOU, Title: "MoU", StartDate: "2026-01-01"})); err != nil {
		t.Fatal(err)
	}
	signed, err := s.agreements.ListAgreements(ctx, connect.NewRequest(&partnersv1.ListAgreementsRequest{
		Statuses: []partnersv1.AgreementStatus{partnersv1.AgreementStatus_AGREEMENT_STATUS_SIGNED}}))
	if err != nil || len(signed.Msg.GetAgreements()) != 1 || signed.Msg.GetAgreements()[0].GetId() != id {
		t.Errorf("signed agreements = %v, %v", signed, err)
	}
	mine, err := s.agreements.ListAgreements(ctx, connect.NewRequest(&partnersv1.ListAgreementsRequest{PartnerId: other.GetId()}))
	if err != nil || len(mine.Msg.GetAgreements()) != 1 || mine.Msg.GetAgreements()[0].GetPartnerId() != other.GetId() {
		t.Errorf("the other partner's agreements = %v, %v", mine, err)
	}

	add := func(name string, primary bool) string {
		t.Helper()
		res, err := s.contacts.AddContact(ctx, connect.NewRequest(&partnersv1.AddContactRequest{PartnerId: p.GetId(), Name: name, Primary: primary}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetContact().GetId()
	}
	ada, grace := add("Ada", true), add("Grace", false)
	if _, err := s.contacts.UpdateContact(ctx, connect.NewRequest(&partnersv1.UpdateContactRequest{Id: grace,
		Contact: &partnersv1.Contact{Primary: true, Role: "Director"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"primary", "role"}}})); err != nil {
		t.Fatal(err)
	}
	list, err := s.contacts.ListContacts(ctx, connect.NewRequest(&partnersv1.ListContactsRequest{PartnerId: p.GetId()}))
	if err != nil || len(list.Msg.GetContacts()) != 2 {
		t.Fatalf("contacts = %v, %v", list, err)
	}
	first, second := list.Msg.GetContacts()[0], list.Msg.GetContacts()[1]
	if first.GetId() != grace || !first.GetPrimary() || first.GetRole() != "Director" || first.GetName() != "Grace" || second.GetId() != ada || second.GetPrimary() {
		t.Errorf("after the takeover: %v, %v", first, second)
	}
}
