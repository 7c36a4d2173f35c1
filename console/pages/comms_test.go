package pages

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	commsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
)

// fakeComms answers as the communications APIs do for the pages of
// announcements and templates; it remembers what it was asked to render
// and whether anything was saved.
type fakeComms struct {
	communicationsv1connect.UnimplementedTemplatesServiceHandler
	communicationsv1connect.UnimplementedAnnouncementsServiceHandler
	communicationsv1connect.UnimplementedCommunicationsServiceHandler
	mu       sync.Mutex
	previews []*commsv1.PreviewTemplateRequest
	saves    int
}

func (f *fakeComms) ListTemplates(context.Context, *connect.Request[commsv1.ListTemplatesRequest]) (*connect.Response[commsv1.ListTemplatesResponse], error) {
	return connect.NewResponse(&commsv1.ListTemplatesResponse{Templates: []*commsv1.Template{{Name: "news", Variants: []*commsv1.TemplateVariant{{Subject: "News"}}}}}), nil
}

func (f *fakeComms) SaveTemplate(context.Context, *connect.Request[commsv1.SaveTemplateRequest]) (*connect.Response[commsv1.SaveTemplateResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves++
	return connect.NewResponse(&commsv1.SaveTemplateResponse{}), nil
}

func (f *fakeComms) PreviewTemplate(_ context.Context, req *connect.Request[commsv1.PreviewTemplateRequest]) (*connect.Response[commsv1.PreviewTemplateResponse], error) {
	f.mu.Lock()
	f.previews = append(f.previews, req.Msg)
	f.mu.Unlock()
	vs := req.Msg.GetVariants()
	if len(vs) == 0 {
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	if strings.Contains(vs[0].GetTextBody(), "{{") {
		return nil, rpc.InvalidArgument(validate.Field("variants[0].text_body", "line 1: unclosed action"))
	}
	return connect.NewResponse(&commsv1.PreviewTemplateResponse{Subject: vs[0].GetSubject() + " for Ada", TextBody: vs[0].GetTextBody()}), nil
}

func (f *fakeComms) ListAnnouncements(_ context.Context, req *connect.Request[commsv1.ListAnnouncementsRequest]) (*connect.Response[commsv1.ListAnnouncementsResponse], error) {
	now := time.Now()
	if req.Msg.GetPageToken() == "" {
		return connect.NewResponse(&commsv1.ListAnnouncementsResponse{NextPageToken: "page-2", Announcements: []*commsv1.Announcement{
			{Id: "a-3", Template: "news", SendAt: timestamppb.New(now.Add(48 * time.Hour)), CreatedAt: timestamppb.New(now)},
			{Id: "a-2", Template: "<b>digest</b>", Kind: commsv1.AnnouncementKind_ANNOUNCEMENT_KIND_DIGEST, SendAt: timestamppb.New(now.Add(-time.Hour)), CreatedAt: timestamppb.New(now)},
		}}), nil
	}
	return connect.NewResponse(&commsv1.ListAnnouncementsResponse{Announcements: []*commsv1.Announcement{
		{Id: "a-1", Template: "news", Cancelled: true, SendAt: timestamppb.New(now.Add(-48 * time.Hour)), CreatedAt: timestamppb.New(now)}}}), nil
}

func (f *fakeComms) GetSendingPolicy(context.Context, *connect.Request[commsv1.GetSendingPolicyRequest]) (*connect.Response[commsv1.GetSendingPolicyResponse], error) {
	return connect.NewResponse(&commsv1.GetSendingPolicyResponse{QuietHoursStart: "21:00", QuietHoursEnd: "08:00"}), nil
}

func (f *fakeComms) ListDeliveries(context.Context, *connect.Request[commsv1.ListDeliveriesRequest]) (*connect.Response[commsv1.ListDeliveriesResponse], error) {
	return connect.NewResponse(&commsv1.ListDeliveriesResponse{}), nil
}

func commsRig(t *testing.T) (*testRig, *fakeComms) {
	fc := &fakeComms{}
	return newRigWith(t, func(mux *http.ServeMux) {
		mux.Handle(communicationsv1connect.NewTemplatesServiceHandler(fc))
		mux.Handle(communicationsv1connect.NewAnnouncementsServiceHandler(fc))
		mux.Handle(communicationsv1connect.NewCommunicationsServiceHandler(fc))
	}), fc
}

func TestCommunicationsListsAnnouncementsPageByPage(t *testing.T) {
	r, _ := commsRig(t)
	cookie, _ := r.signIn(t, "staff")
	res, page := r.do(t, http.MethodGet, "/communications", cookie, nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	for _, want := range []string{
		`<a href="/communications/announcements/a-3">news</a>`, `<span class="badge warn">scheduled</span>`,
		`<a href="/communications/announcements/a-2">&lt;b&gt;digest&lt;/b&gt;</a>`, "<td>digest</td>", `<span class="badge ok">due</span>`,
		`href="/communications?announcements=page-2#announcements-h"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	_, page = r.do(t, http.MethodGet, "/communications?announcements=page-2", cookie, nil, nil)
	if !strings.Contains(page, `<a href="/communications/announcements/a-1">news</a>`) || !strings.Contains(page, `<span class="badge bad">cancelled</span>`) {
		t.Errorf("the second page lacks the cancelled announcement")
	}
}

func TestTheAnnouncementFormShowsTheQuietHours(t *testing.T) {
	r, _ := commsRig(t)
	cookie, _ := r.signIn(t, "organiser")
	_, page := r.do(t, http.MethodGet, "/communications/announcements/new", cookie, nil, nil)
	if !strings.Contains(page, "Quiet hours: 21:00 to 08:00") {
		t.Errorf("the announcement form does not show the quiet hours")
	}
}

// The template page previews what is typed before it is saved; a mistake
// shows next to the variant's field, and nothing is saved either way.
func TestTemplateEditsPreviewBeforeTheyAreSaved(t *testing.T) {
	r, fc := commsRig(t)
	cookie, ss := r.signIn(t, "staff")
	draft := url.Values{csrfField: {ss.CSRF}, "name": {"welcome"}, "subject_0": {"Hello <there>"}, "text_0": {"Unsaved body"}, "locale_1": {"de"},
		"subject_1": {"Hallo"}, "text_1": {"Hallo"}, "member_id": {"m-7"}, "preview_locale": {"de"}}
	res, frag := r.do(t, http.MethodPost, "/communications/templates/preview", cookie, draft, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(frag, "Hello &lt;there&gt; for Ada") || !strings.Contains(frag, "Unsaved body") {
		t.Fatalf("draft preview = %d %s", res.StatusCode, frag)
	}
	got := fc.previews[len(fc.previews)-1]
	if len(got.GetVariants()) != 2 || got.GetVariants()[1].GetLocale() != "de" || got.GetMemberId() != "m-7" || got.GetLocale() != "de" || got.GetName() != "welcome" {
		t.Errorf("the API was asked %v", got)
	}
	draft.Set("text_0", "Hello {{.Member")
	_, frag = r.do(t, http.MethodPost, "/communications/templates/preview", cookie, draft, nil)
	if !strings.Contains(frag, "text_0: line 1: unclosed action") {
		t.Errorf("a draft's mistake shows as %s", frag)
	}
	if fc.saves != 0 {
		t.Errorf("a preview saved the template %d times", fc.saves)
	}
	if res, _ := r.do(t, http.MethodPost, "/communications/templates/preview", cookie, url.Values{"subject_0": {"x"}}, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("a preview without the CSRF token = %d, want 403", res.StatusCode)
	}
}

// When the service cannot say, the form does not claim there are none.
func TestTheAnnouncementFormDoesNotGuessTheQuietHours(t *testing.T) {
	r := newRig(t) // no communications API behind it
	cookie, _ := r.signIn(t, "organiser")
	_, page := r.do(t, http.MethodGet, "/communications/announcements/new", cookie, nil, nil)
	if !strings.Contains(page, "The quiet hours could not be read right now") || strings.Contains(page, "No quiet hours are kept") {
		t.Errorf("the form guesses the quiet hours")
	}
}
