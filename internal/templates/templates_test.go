package templates

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
)

// fakeTemplates answers GetTemplate with getErr and SaveTemplate with
// saveErr, counting saves.
type fakeTemplates struct {
	communicationsv1connect.UnimplementedTemplatesServiceHandler
	getErr, saveErr error
	saved           []*communicationsv1.SaveTemplateRequest
}

func (f *fakeTemplates) GetTemplate(context.Context, *connect.Request[communicationsv1.GetTemplateRequest]) (*connect.Response[communicationsv1.GetTemplateResponse], error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	return connect.NewResponse(&communicationsv1.GetTemplateResponse{}), nil
}

func (f *fakeTemplates) SaveTemplate(_ context.Context, req *connect.Request[communicationsv1.SaveTemplateRequest]) (*connect.Response[communicationsv1.SaveTemplateResponse], error) {
	f.saved = append(f.saved, req.Msg)
	if f.saveErr != nil {
		return nil, f.saveErr
	}
	return connect.NewResponse(&communicationsv1.SaveTemplateResponse{}), nil
}

// client adapts the fake handler to the client interface Ensure takes.
type client struct{ h *fakeTemplates }

func (c client) GetTemplate(ctx context.Context, r *connect.Request[communicationsv1.GetTemplateRequest]) (*connect.Response[communicationsv1.GetTemplateResponse], error) {
	return c.h.GetTemplate(ctx, r)
}
func (c client) SaveTemplate(ctx context.Context, r *connect.Request[communicationsv1.SaveTemplateRequest]) (*connect.Response[communicationsv1.SaveTemplateResponse], error) {
	return c.h.SaveTemplate(ctx, r)
}
func (c client) ListTemplates(ctx context.Context, r *connect.Request[communicationsv1.ListTemplatesRequest]) (*connect.Response[communicationsv1.ListTemplatesResponse], error) {
	return c.h.ListTemplates(ctx, r)
}
func (c client) DeleteTemplate(ctx context.Context, r *connect.Request[communicationsv1.DeleteTemplateRequest]) (*connect.Response[communicationsv1.DeleteTemplateResponse], error) {
	return c.h.DeleteTemplate(ctx, r)
}
func (c client) PreviewTemplate(ctx context.Context, r *connect.Request[communicationsv1.PreviewTemplateRequest]) (*connect.Response[communicationsv1.PreviewTemplateResponse], error) {
	return c.h.PreviewTemplate(ctx, r)
}

func TestEnsureCreatesOnlyAMissingTemplate(t *testing.T) {
	notFound := connect.NewError(connect.CodeNotFound, errors.New("no such template"))
	d := Default{Name: "health-report", Subject: "Your week", TextBody: "{{.Vars.goals}}"}
	cases := []struct {
		name        string
		fake        *fakeTemplates
		wantCreated bool
		wantSaves   int
		wantErr     bool
	}{
		{"an organiser's own is kept", &fakeTemplates{}, false, 0, false},
		{"a missing one is created", &fakeTemplates{getErr: notFound}, true, 1, false},
		{"one created meanwhile by someone else counts as there", &fakeTemplates{getErr: notFound,
			saveErr: connect.NewError(connect.CodeAlreadyExists, errors.New("exists"))}, false, 1, false},
		{"a failed look-up creates nothing", &fakeTemplates{getErr: connect.NewError(connect.CodeUnavailable, errors.New("down"))}, false, 0, true},
		{"a refused save is an error", &fakeTemplates{getErr: notFound,
			saveErr: connect.NewError(connect.CodeInvalidArgument, errors.New("bad"))}, false, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			created, err := Ensure(context.Background(), client{c.fake}, "demo", d)
			if created != c.wantCreated || (err != nil) != c.wantErr || len(c.fake.saved) != c.wantSaves {
				t.Fatalf("created %v, err %v, saves %d; want %v, error %v, %d saves", created, err, len(c.fake.saved), c.wantCreated, c.wantErr, c.wantSaves)
			}
			if c.wantSaves == 1 {
				s := c.fake.saved[0]
				if s.GetCommunity() != "demo" || s.GetName() != d.Name || s.GetVariants()[0].GetTextBody() != d.TextBody {
					t.Errorf("saved %v", s)
				}
			}
		})
	}
}
