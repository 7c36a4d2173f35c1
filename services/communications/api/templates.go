package api

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// SaveTemplate validates and stores a template.
func (h *Handler) SaveTemplate(ctx context.Context, req *connect.Request[communicationsv1.SaveTemplateRequest]) (*connect.Response[communicationsv1.SaveTemplateResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	t, err := domain.NewTemplate(community, req.Msg.GetName(), variantsFromProto(req.Msg.GetVariants()), h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.SaveTemplate(ctx, t, h.record(ctx, community, "template.saved", "template", t.Name)); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.SaveTemplateResponse{Template: templateToProto(t)}), nil
}

// GetTemplate returns one template.
func (h *Handler) GetTemplate(ctx context.Context, req *connect.Request[communicationsv1.GetTemplateRequest]) (*connect.Response[communicationsv1.GetTemplateResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	t, err := h.store.Template(ctx, community, req.Msg.GetName())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.GetTemplateResponse{Template: templateToProto(t)}), nil
}

// ListTemplates lists a community's templates.
func (h *Handler) ListTemplates(ctx context.Context, req *connect.Request[communicationsv1.ListTemplatesRequest]) (*connect.Response[communicationsv1.ListTemplatesResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	ts, err := h.store.Templates(ctx, community)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &communicationsv1.ListTemplatesResponse{}
	for _, t := range ts {
		res.Templates = append(res.Templates, templateToProto(t))
	}
	return connect.NewResponse(res), nil
}

// DeleteTemplate removes a template; NotFound when the community has none
// of that name.
func (h *Handler) DeleteTemplate(ctx context.Context, req *connect.Request[communicationsv1.DeleteTemplateRequest]) (*connect.Response[communicationsv1.DeleteTemplateResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	name := req.Msg.GetName()
	if err := h.store.DeleteTemplate(ctx, community, name, h.record(ctx, community, "template.deleted", "template", name)); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.DeleteTemplateResponse{}), nil
}

// PreviewTemplate renders a template for a member or the sample member.
func (h *Handler) PreviewTemplate(ctx context.Context, req *connect.Request[communicationsv1.PreviewTemplateRequest]) (*connect.Response[communicationsv1.PreviewTemplateResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	t, err := h.previewed(ctx, community, req.Msg)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	data := domain.SampleData()
	data.Community = community
	if id := req.Msg.GetMemberId(); id != "" {
		r, err := h.store.LookupRecipient(ctx, community, id)
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec(), memberErr(err))
		}
		data.Member = domain.MemberData{ID: r.MemberID, DisplayName: r.DisplayName, Email: r.Email, Locale: r.Locale}
	}
	if req.Msg.GetLocale() != "" {
		data.Member.Locale = req.Msg.GetLocale()
	}
	if vars := req.Msg.GetVariables(); len(vars) > 0 {
		data.Vars = vars
	}
	r, err := t.Render(data)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), validate.Field("name", "%s", err.Error()))
	}
	return connect.NewResponse(&communicationsv1.PreviewTemplateResponse{Locale: r.Locale, Subject: r.Subject, TextBody: r.Text, HtmlBody: r.HTML}), nil
}

// previewed is the template a preview renders: the unsaved variants of
// the request, checked as SaveTemplate checks them, or the saved template.
func (h *Handler) previewed(ctx context.Context, community string, req *communicationsv1.PreviewTemplateRequest) (domain.Template, error) {
	if len(req.GetVariants()) == 0 {
		return h.store.Template(ctx, community, req.GetName())
	}
	return domain.NewTemplate(community, req.GetName(), variantsFromProto(req.GetVariants()), h.now())
}

func variantsFromProto(in []*communicationsv1.TemplateVariant) []domain.Variant {
	var out []domain.Variant
	for _, v := range in {
		out = append(out, domain.Variant{Locale: v.GetLocale(), Subject: v.GetSubject(), Text: v.GetTextBody(), HTML: v.GetHtmlBody()})
	}
	return out
}

func templateToProto(t domain.Template) *communicationsv1.Template {
	out := &communicationsv1.Template{Community: t.Community, Name: t.Name, UpdatedAt: timestamppb.New(t.UpdatedAt)}
	for _, v := range t.Variants {
		out.Variants = append(out.Variants, &communicationsv1.TemplateVariant{Locale: v.Locale, Subject: v.Subject, TextBody: v.Text, HtmlBody: v.HTML})
	}
	return out
}
