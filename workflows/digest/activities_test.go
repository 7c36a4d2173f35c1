package digest

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/testsuite"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

type fakeTemplates struct {
	communicationsv1connect.TemplatesServiceClient
	existing map[string]bool
	saved    []*communicationsv1.SaveTemplateRequest
}

func (f *fakeTemplates) GetTemplate(_ context.Context, req *connect.Request[communicationsv1.GetTemplateRequest]) (*connect.Response[communicationsv1.GetTemplateResponse], error) {
	if !f.existing[req.Msg.GetName()] {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("template not found"))
	}
	return connect.NewResponse(&communicationsv1.GetTemplateResponse{Template: &communicationsv1.Template{Name: req.Msg.GetName()}}), nil
}

func (f *fakeTemplates) SaveTemplate(_ context.Context, req *connect.Request[communicationsv1.SaveTemplateRequest]) (*connect.Response[communicationsv1.SaveTemplateResponse], error) {
	f.saved = append(f.saved, req.Msg)
	return connect.NewResponse(&communicationsv1.SaveTemplateResponse{}), nil
}

type fakeAnnouncements struct {
	communicationsv1connect.AnnouncementsServiceClient
	got []*communicationsv1.CreateAnnouncementRequest
	err error
}

func (f *fakeAnnouncements) CreateAnnouncement(_ context.Context, req *connect.Request[communicationsv1.CreateAnnouncementRequest]) (*connect.Response[communicationsv1.CreateAnnouncementResponse], error) {
	f.got = append(f.got, req.Msg)
	if f.err != nil {
		return nil, f.err
	}
	return connect.NewResponse(&communicationsv1.CreateAnnouncementResponse{Announcement: &communicationsv1.Announcement{Id: "a1", Recipients: 12}}), nil
}

func TestEnsureDigestTemplateCreatesOnlyAMissingTemplate(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	tpl := &fakeTemplates{existing: map[string]bool{"organisers-own": true}}
	a := &Activities{Templates: tpl}
	env.RegisterActivity(a)
	if _, err := env.ExecuteActivity(a.EnsureDigestTemplate, TemplateInput{Community: "demo", Template: "organisers-own"}); err != nil {
		t.Fatal(err)
	}
	if len(tpl.saved) != 0 {
		t.Fatalf("an existing template was overwritten: %v", tpl.saved)
	}
	if _, err := env.ExecuteActivity(a.EnsureDigestTemplate, TemplateInput{Community: "demo", Template: DefaultTemplate}); err != nil {
		t.Fatal(err)
	}
	if len(tpl.saved) != 1 || tpl.saved[0].GetName() != DefaultTemplate || tpl.saved[0].GetCommunity() != "demo" ||
		len(tpl.saved[0].GetVariants()) != 1 || tpl.saved[0].GetVariants()[0].GetLocale() != "" {
		t.Errorf("saved = %v, want the default digest as the fallback variant", tpl.saved)
	}
}

func TestCreateDigestSendsADigestAnnouncementWithTheKey(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	ann := &fakeAnnouncements{}
	a := &Activities{Announcements: ann}
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.CreateDigest, DigestInput{Community: "demo", Template: "weekly-digest", IdempotencyKey: "digest/demo/k"})
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := v.Get(&r); err != nil || r.AnnouncementID != "a1" || r.Recipients != 12 || r.IdempotencyKey != "digest/demo/k" {
		t.Errorf("result = %+v, %v", r, err)
	}
	got := ann.got[0]
	if got.GetKind() != communicationsv1.AnnouncementKind_ANNOUNCEMENT_KIND_DIGEST || got.GetIdempotencyKey() != "digest/demo/k" ||
		got.GetTemplate() != "weekly-digest" || got.GetCommunity() != "demo" || got.GetSendAt() != nil {
		t.Errorf("request = %v", got)
	}
}

func TestCreateDigestMarksRefusalsNonRetryable(t *testing.T) {
	for code, want := range map[connect.Code]string{
		connect.CodeInvalidArgument:  activityerr.InvalidRequest,
		connect.CodePermissionDenied: activityerr.PermissionDenied,
		connect.CodeNotFound:         activityerr.NotFound,
		connect.CodeUnavailable:      "",
	} {
		t.Run(code.String(), func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			a := &Activities{Announcements: &fakeAnnouncements{err: connect.NewError(code, errors.New("no"))}}
			env.RegisterActivity(a)
			_, err := env.ExecuteActivity(a.CreateDigest, DigestInput{Community: "demo", Template: "t", IdempotencyKey: "k"})
			if err == nil {
				t.Fatal("no error")
			}
			for _, typ := range activityerr.NonRetryable() {
				if activityerr.Is(err, typ) != (typ == want) {
					t.Errorf("error %v: type %s = %v, want only %q", err, typ, activityerr.Is(err, typ), want)
				}
			}
		})
	}
}
