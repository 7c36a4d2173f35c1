package partners_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
)

// mailbox stands in for the communications service: it keeps templates
// and the messages sent, once per idempotency key, as the real one does.
type mailbox struct {
	communicationsv1connect.UnimplementedCommunicationsServiceHandler
	communicationsv1connect.UnimplementedTemplatesServiceHandler
	mu        sync.Mutex
	templates map[string]string
	sent      map[string]*communicationsv1.SendMessageRequest
	callers   []string
}

func (m *mailbox) GetTemplate(_ context.Context, req *connect.Request[communicationsv1.GetTemplateRequest]) (*connect.Response[communicationsv1.GetTemplateResponse], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.templates[req.Msg.GetCommunity()+"/"+req.Msg.GetName()]; !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such template"))
	}
	return connect.NewResponse(&communicationsv1.GetTemplateResponse{}), nil
}

func (m *mailbox) SaveTemplate(_ context.Context, req *connect.Request[communicationsv1.SaveTemplateRequest]) (*connect.Response[communicationsv1.SaveTemplateResponse], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.templates[req.Msg.GetCommunity()+"/"+req.Msg.GetName()] = req.Msg.GetVariants()[0].GetSubject()
	return connect.NewResponse(&communicationsv1.SaveTemplateResponse{}), nil
}

func (m *mailbox) SendMessage(_ context.Context, req *connect.Request[communicationsv1.SendMessageRequest]) (*connect.Response[communicationsv1.SendMessageResponse], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.templates[req.Msg.GetCommunity()+"/"+req.Msg.GetTemplate()]; !ok {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("unknown template"))
	}
	if _, dup := m.sent[req.Msg.GetIdempotencyKey()]; !dup {
		m.sent[req.Msg.GetIdempotencyKey()] = req.Msg
		m.callers = append(m.callers, req.Header().Get("Authorization"))
	}
	return connect.NewResponse(&communicationsv1.SendMessageResponse{}), nil
}

// to lists who was mailed about what: "<member> <escalated> <headline>".
func (m *mailbox) to(member string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, msg := range m.sent {
		if msg.GetMemberId() == member {
			out = append(out, msg.GetVariables()["escalated"]+" "+msg.GetVariables()["headline"])
		}
	}
	sort.Strings(out)
	return out
}

func (m *mailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

// fakeSegments lists demo's organisers.
type fakeSegments struct {
	membersv1connect.UnimplementedSegmentsServiceHandler
}

func (fakeSegments) ListSegmentMembers(_ context.Context, req *connect.Request[membersv1.ListSegmentMembersRequest]) (*connect.Response[membersv1.ListSegmentMembersResponse], error) {
	if !slices.Equal(req.Msg.GetFilter().GetRoles(), []string{"organiser"}) || req.Msg.GetCommunity() != "demo" {
		return connect.NewResponse(&membersv1.ListSegmentMembersResponse{}), nil
	}
	return connect.NewResponse(&membersv1.ListSegmentMembersResponse{Members: []*membersv1.SegmentMember{{Id: "organiser-1"}}}), nil
}

// An agreement about to end and partners due for review reach their
// owner by e-mail and the attention list; when nobody acknowledges or
// resolves an item within three days the organisers are told; an owner's
// acknowledgement stops that, and renewing or reviewing resolves it. The
// days pass on a fake clock; each sweep is run as the scheduler would.
func TestAttentionReachesOwnersAndEscalates(t *testing.T) {
	box := &mailbox{templates: map[string]string{}, sent: map[string]*communicationsv1.SendMessageRequest{}}
	s := start(t, func(s *service) {
		mux := http.NewServeMux()
		mux.Handle(communicationsv1connect.NewCommunicationsServiceHandler(box))
		mux.Handle(communicationsv1connect.NewTemplatesServiceHandler(box))
		mux.Handle(membersv1connect.NewSegmentsServiceHandler(fakeSegments{}))
		// The members fakes stay where they are; segments come from here.
		mux.Handle(membersv1connect.NewAccessServiceHandler(fakeAccess{key: s.apiKey}))
		mux.Handle(membersv1connect.NewMembersServiceHandler(fakeMembers{dir: s.members}))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		s.communicationsURL, s.membersURL = srv.URL, srv.URL
	})
	ctx := context.Background()
	organiser := authtest.Bearer(s.issuer.For(t, "demo", auth.Organiser))
	attention := partnersv1connect.NewAttentionServiceClient(http.DefaultClient, s.url, organiser)
	workload := partnersv1connect.NewAgreementsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	sweep := func(day string) {
		t.Helper()
		s.clock.Set(day)
		if _, err := workload.RunExpirySweep(ctx, connect.NewRequest(&partnersv1.RunExpirySweepRequest{Community: "demo"})); err != nil {
			t.Fatal(err)
		}
	}
	list := func(resolved bool) []*partnersv1.AttentionItem {
		t.Helper()
		res, err := attention.ListAttention(ctx, connect.NewRequest(&partnersv1.ListAttentionRequest{IncludeResolved: resolved}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetItems()
	}

	solar := addPartner(t, s, "Solar Co-op")
	wind := addPartner(t, s, "Wind Trust")
	nobodys := addPartner(t, s, "Library")
	for _, u := range []struct {
		id, owner, review string
	}{{solar.GetId(), "member-7", "2026-03-20"}, {wind.GetId(), "m-1", "2026-03-20"}, {nobodys.GetId(), "", "2026-03-16"}} {
		if _, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: u.id,
			Partner:    &partnersv1.Partner{Stakeholder: &partnersv1.Stakeholder{OwnerId: u.owner, NextReviewDate: u.review}},
			UpdateMask: mask("stakeholder.owner_id", "stakeholder.next_review_date")})); err != nil {
			t.Fatal(err)
		}
	}
	created, err := s.agreements.CreateAgreement(ctx, connect.NewRequest(&partnersv1.CreateAgreementRequest{PartnerId: solar.GetId(),
		Kind: partnersv1.AgreementKind_AGREEMENT_KIND_MOU, Title: "Rooftop MoU", StartDate: "2026-01-01", EndDate: "2026-04-05"}))
	if err != nil {
		t.Fatal(err)
	}
	agreement := created.Msg.GetAgreement().GetId()
	if _, err := s.agreements.SignAgreement(ctx, connect.NewRequest(&partnersv1.SignAgreementRequest{Id: agreement})); err != nil {
		t.Fatal(err)
	}

	// 15 March: the agreement ends within 30 days; its owner is told.
	sweep("2026-03-15")
	items := list(false)
	if len(items) != 1 || items[0].GetKind() != partnersv1.AttentionKind_ATTENTION_KIND_AGREEMENT_EXPIRING || items[0].GetAgreementId() != agreement ||
		items[0].GetOwnerId() != "member-7" || items[0].GetDueDate() != "2026-04-05" || items[0].GetNotifiedAt() == nil ||
		items[0].GetEscalatesAt().AsTime() != items[0].GetNotifiedAt().AsTime().Add(72*3600e9) {
		t.Fatalf("attention on 15 March = %v, want the agreement, its owner told, escalating 72 h later", items)
	}
	if got := box.to("member-7"); !slices.Equal(got, []string{"false Agreement with Solar Co-op ends on 2026-04-05"}) {
		t.Errorf("the owner was mailed %q", got)
	}
	if len(box.templates) != 1 || box.templates["demo/partner-reminder"] == "" {
		t.Errorf("templates = %v, want the default partner-reminder created", box.templates)
	}

	// 16 March: the library is due for review and has no owner: the
	// organisers are told at once. Nothing else happens.
	sweep("2026-03-16")
	if got := box.to("organiser-1"); !slices.Equal(got, []string{"true Needs someone: Time to review the partnership with Library"}) {
		t.Errorf("organisers mailed %q on 16 March", got)
	}

	// 17 March, twice: no owner has done anything, but three days have not
	// passed; nothing new goes out.
	before := box.count()
	sweep("2026-03-17")
	sweep("2026-03-17")
	if box.count() != before {
		t.Errorf("sweeps on 17 March sent %d more messages", box.count()-before)
	}

	// 20 March: both partners are due for review; their owners are told.
	// Wind's owner acknowledges at once. The agreement's owner did nothing
	// for more than three days: the organisers are told.
	sweep("2026-03-20")
	var windItem string
	for _, it := range list(false) {
		if it.GetPartnerId() == wind.GetId() {
			windItem = it.GetId()
		}
	}
	if windItem == "" {
		t.Fatalf("no review item for Wind Trust: %v", list(false))
	}
	if got := box.to("organiser-1"); !slices.Contains(got, "true Needs someone: Agreement with Solar Co-op ends on 2026-04-05") {
		t.Errorf("organisers mailed %q by 20 March, want the agreement escalated", got)
	}
	ack, err := attention.AcknowledgeAttention(ctx, connect.NewRequest(&partnersv1.AcknowledgeAttentionRequest{Id: windItem}))
	if err != nil || ack.Msg.GetItem().GetAcknowledgedAt() == nil || ack.Msg.GetItem().GetEscalatesAt() != nil {
		t.Fatalf("acknowledge = %v, %v", ack, err)
	}

	// 24 March: the solar review was not acknowledged, so it escalates;
	// wind's was, so it does not. Then the agreement is renewed and the
	// solar review moved: both resolve at the next sweep.
	sweep("2026-03-24")
	orgMail := box.to("organiser-1")
	if !slices.Contains(orgMail, "true Needs someone: Time to review the partnership with Solar Co-op") ||
		slices.Contains(orgMail, "true Needs someone: Time to review the partnership with Wind Trust") {
		t.Errorf("organisers mailed %q by 24 March; want solar's review escalated and wind's (acknowledged) not", orgMail)
	}
	if _, err := s.agreements.RenewAgreement(ctx, connect.NewRequest(&partnersv1.RenewAgreementRequest{Id: agreement, EndDate: "2027-04-05"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: solar.GetId(),
		Partner: &partnersv1.Partner{Stakeholder: &partnersv1.Stakeholder{NextReviewDate: "2026-09-20"}}, UpdateMask: mask("stakeholder.next_review_date")})); err != nil {
		t.Fatal(err)
	}
	sweep("2026-03-25")
	resolutions := map[string]string{}
	for _, it := range list(true) {
		if it.GetResolvedAt() != nil {
			resolutions[it.GetKind().String()+" "+it.GetPartnerId()] = it.GetResolution()
		}
	}
	want := map[string]string{
		"ATTENTION_KIND_AGREEMENT_EXPIRING " + solar.GetId(): "renewed",
		"ATTENTION_KIND_REVIEW_DUE " + solar.GetId():         "reviewed",
	}
	if len(resolutions) != 2 || resolutions["ATTENTION_KIND_AGREEMENT_EXPIRING "+solar.GetId()] != want["ATTENTION_KIND_AGREEMENT_EXPIRING "+solar.GetId()] ||
		resolutions["ATTENTION_KIND_REVIEW_DUE "+solar.GetId()] != want["ATTENTION_KIND_REVIEW_DUE "+solar.GetId()] {
		t.Errorf("resolutions = %v, want %v", resolutions, want)
	}
	if open := list(false); len(open) != 2 {
		t.Errorf("open items after the renewal = %v, want wind's and the library's reviews", open)
	}
	// The new end date is a year off: nothing is raised for it yet.
	sweep("2026-03-26")
	if open := list(false); len(open) != 2 {
		t.Errorf("open items a day later = %v", open)
	}
	// 27 March: the library gets an owner. Its open review item follows
	// the partner to her, and the next sweep tells her.
	s.members.add("demo", membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, "member-9")
	if _, err := s.partners.UpdatePartner(ctx, connect.NewRequest(&partnersv1.UpdatePartnerRequest{Id: nobodys.GetId(),
		Partner: &partnersv1.Partner{Stakeholder: &partnersv1.Stakeholder{OwnerId: "member-9"}}, UpdateMask: mask("stakeholder.owner_id")})); err != nil {
		t.Fatal(err)
	}
	for _, it := range list(false) {
		if it.GetPartnerId() == nobodys.GetId() && (it.GetOwnerId() != "member-9" || it.GetNotifiedAt() != nil) {
			t.Errorf("the library's item after the owner changed = %v, want member-9's, not yet told", it)
		}
	}
	sweep("2026-03-27")
	if got := box.to("member-9"); !slices.Equal(got, []string{"false Time to review the partnership with Library"}) {
		t.Errorf("the library's new owner was mailed %q", got)
	}

	// Every mail went out as the partners service's workload.
	for _, a := range box.callers {
		if a == "" {
			t.Errorf("a message was sent without credentials")
		}
	}

	// The owner's own attention items reach their subject-access export;
	// another community's organiser cannot acknowledge demo's items.
	other := partnersv1connect.NewAttentionServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "other", auth.Organiser)))
	if _, err := other.AcknowledgeAttention(ctx, connect.NewRequest(&partnersv1.AcknowledgeAttentionRequest{Id: windItem})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("another community acknowledging = %v, want NotFound", err)
	}
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
