package pages

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kinshiphq/kinship/console/session"
	commsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

type commsPage struct {
	Templates     []*commsv1.Template
	Announcements []announcementRow
	Messages      []*commsv1.Message
	Pager         pager
}

// announcementRow is an announcement of the list with its state in words.
type announcementRow struct {
	*commsv1.Announcement
	State string
}

func announcementState(a *commsv1.Announcement, now time.Time) string {
	switch {
	case a.GetCancelled():
		return "cancelled"
	case a.GetSendAt().AsTime().After(now):
		return "scheduled"
	}
	return "due"
}

// commsHome lists the templates and the newest deliveries.
func (s *Server) commsHome(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	res, err := s.api.Templates.ListTemplates(ctx, connect.NewRequest(&commsv1.ListTemplatesRequest{Community: s.opts.Community}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	d := commsPage{Templates: res.Msg.GetTemplates()}
	q := r.URL.Query()
	if ar, err := s.api.Announcements.ListAnnouncements(ctx, connect.NewRequest(&commsv1.ListAnnouncementsRequest{Community: s.opts.Community,
		PageSize: 10, PageToken: q.Get("announcements")})); err == nil {
		now := time.Now()
		for _, a := range ar.Msg.GetAnnouncements() {
			d.Announcements = append(d.Announcements, announcementRow{Announcement: a, State: announcementState(a, now)})
		}
		if q.Get("announcements") != "" {
			d.Pager.First = "/communications#announcements-h"
		}
		if next := ar.Msg.GetNextPageToken(); next != "" {
			d.Pager.Next = "/communications?announcements=" + url.QueryEscape(next) + "#announcements-h"
		}
	}
	if dr, err := s.api.Messages.ListDeliveries(ctx, connect.NewRequest(&commsv1.ListDeliveriesRequest{Community: s.opts.Community, PageSize: 10})); err == nil {
		d.Messages = dr.Msg.GetMessages()
	}
	s.render(w, r, c, http.StatusOK, "comms", "Communications", "communications", d)
}

type templatePage struct {
	Form     *Form
	Name     string
	Existing bool
	Variants []int // indexes of the variant rows of the form
	Preview  *commsv1.PreviewTemplateResponse
	MemberID string
}

func templateValues(t *commsv1.Template) url.Values {
	v := url.Values{"name": {t.GetName()}}
	for i, va := range t.GetVariants() {
		n := strconv.Itoa(i)
		v.Set("locale_"+n, va.GetLocale())
		v.Set("subject_"+n, va.GetSubject())
		v.Set("text_"+n, va.GetTextBody())
		v.Set("html_"+n, va.GetHtmlBody())
	}
	return v
}

// variantRows are the rows the form shows: every variant sent or stored,
// and one empty row for a new locale.
func variantRows(v url.Values) []int {
	n := 0
	for i := 0; i < 20; i++ {
		k := strconv.Itoa(i)
		if v.Get("locale_"+k) != "" || v.Get("subject_"+k) != "" || v.Get("text_"+k) != "" || v.Get("html_"+k) != "" {
			n = i + 1
		}
	}
	rows := make([]int, 0, n+1)
	for i := 0; i <= n && i < 20; i++ {
		rows = append(rows, i)
	}
	if len(rows) == 0 {
		rows = []int{0}
	}
	return rows
}

func (s *Server) templateNew(w http.ResponseWriter, r *http.Request, c *call) {
	v := url.Values{}
	s.render(w, r, c, http.StatusOK, "template", "New template", "communications", templatePage{Form: newForm(v), Variants: variantRows(v), MemberID: c.ss.MemberID})
}

func (s *Server) templateEdit(w http.ResponseWriter, r *http.Request, c *call) {
	res, err := s.api.Templates.GetTemplate(r.Context(), connect.NewRequest(&commsv1.GetTemplateRequest{Community: s.opts.Community, Name: r.PathValue("name")}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	v := templateValues(res.Msg.GetTemplate())
	d := templatePage{Form: newForm(v), Name: res.Msg.GetTemplate().GetName(), Existing: true, Variants: variantRows(v), MemberID: c.ss.MemberID}
	if pr, err := s.api.Templates.PreviewTemplate(r.Context(), connect.NewRequest(&commsv1.PreviewTemplateRequest{Community: s.opts.Community,
		Name: d.Name, MemberId: c.ss.MemberID})); err == nil {
		d.Preview = pr.Msg
	}
	s.render(w, r, c, http.StatusOK, "template", "Template "+d.Name, "communications", d)
}

// templateSave saves every variant; the API names the variant and line of
// a mistake, which shows next to that variant's fields.
func (s *Server) templateSave(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	name := strings.TrimSpace(v.Get("name"))
	variants, aliases := variantsFromForm(v)
	_, err = s.api.Templates.SaveTemplate(r.Context(), connect.NewRequest(&commsv1.SaveTemplateRequest{Community: s.opts.Community, Name: name, Variants: variants}))
	if err == nil {
		seeOther(w, r, "/communications/templates/"+url.PathEscape(name), "template-saved")
		return
	}
	form.apply(err, aliases)
	s.render(w, r, c, http.StatusBadRequest, "template", "Template", "communications", templatePage{Form: form, Name: name, Existing: v.Get("existing") == "1", Variants: variantRows(v)})
}

// variantsFromForm reads the template form's variant rows, skipping empty
// ones, with the aliases that put the API's field errors (variants[i].part)
// next to the row's fields.
func variantsFromForm(v url.Values) ([]*commsv1.TemplateVariant, map[string]string) {
	var variants []*commsv1.TemplateVariant
	aliases := map[string]string{"name": "name"}
	for _, i := range variantRows(v) {
		k := strconv.Itoa(i)
		va := &commsv1.TemplateVariant{Locale: strings.TrimSpace(v.Get("locale_" + k)), Subject: v.Get("subject_" + k),
			TextBody: v.Get("text_" + k), HtmlBody: v.Get("html_" + k)}
		if va.Subject == "" && va.TextBody == "" && va.HtmlBody == "" && va.Locale == "" {
			continue
		}
		n := strconv.Itoa(len(variants))
		for _, part := range []string{"subject", "text_body", "html_body", "locale"} {
			short := map[string]string{"subject": "subject_", "text_body": "text_", "html_body": "html_", "locale": "locale_"}[part]
			aliases[fmt.Sprintf("variants[%s].%s", n, part)] = short + k
			aliases[fmt.Sprintf("variants.%s.%s", n, part)] = short + k
		}
		variants = append(variants, va)
	}
	return variants, aliases
}

func (s *Server) templateDelete(w http.ResponseWriter, r *http.Request, c *call) {
	if _, err := s.api.Templates.DeleteTemplate(r.Context(), connect.NewRequest(&commsv1.DeleteTemplateRequest{Community: s.opts.Community, Name: r.PathValue("name")})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/communications", "template-deleted")
}

// templatePreview renders the saved template for a chosen member and
// locale (an htmx swap on the template page).
func (s *Server) templatePreview(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	d := templatePage{Form: newForm(q), Name: r.PathValue("name"), MemberID: q.Get("member_id")}
	res, err := s.api.Templates.PreviewTemplate(r.Context(), connect.NewRequest(&commsv1.PreviewTemplateRequest{Community: s.opts.Community,
		Name: d.Name, MemberId: strings.TrimSpace(q.Get("member_id")), Locale: strings.TrimSpace(q.Get("preview_locale"))}))
	if err != nil {
		d.Form.apply(err, map[string]string{"member_id": "member_id", "locale": "preview_locale"})
	} else {
		d.Preview = res.Msg
	}
	s.fragment(w, r, c, "template", "preview", d)
}

// templateDraftPreview renders what the template form holds, unsaved, for
// a chosen member and locale (an htmx swap as the organiser types); a
// mistake shows with the variant and line the API names.
func (s *Server) templateDraftPreview(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := templatePage{Form: newForm(v), Name: strings.TrimSpace(v.Get("name")), MemberID: v.Get("member_id")}
	variants, aliases := variantsFromForm(v)
	aliases["member_id"], aliases["locale"] = "member_id", "preview_locale"
	name := d.Name
	if name == "" {
		name = "draft" // a new template not named yet still previews
	}
	res, err := s.api.Templates.PreviewTemplate(r.Context(), connect.NewRequest(&commsv1.PreviewTemplateRequest{Community: s.opts.Community,
		Name: name, Variants: variants, MemberId: strings.TrimSpace(v.Get("member_id")), Locale: strings.TrimSpace(v.Get("preview_locale"))}))
	if err != nil {
		d.Form.apply(err, aliases)
	} else {
		d.Preview = res.Msg
	}
	s.fragment(w, r, c, "template", "preview", d)
}

type announcementForm struct {
	Form      *Form
	Templates []*commsv1.Template
	Segments  []*membersv1.Segment
	Key       string
	// Quiet are the quiet hours in force; nil when the service keeps none.
	Quiet *commsv1.GetSendingPolicyResponse
	// QuietUnknown is set when the service could not say.
	QuietUnknown bool
}

func (s *Server) announcementForm(r *http.Request, form *Form) announcementForm {
	ctx := r.Context()
	d := announcementForm{Form: form, Key: form.Value("idempotency_key")}
	if d.Key == "" {
		d.Key = "console-" + session.Random()[:24]
	}
	if res, err := s.api.Templates.ListTemplates(ctx, connect.NewRequest(&commsv1.ListTemplatesRequest{Community: s.opts.Community})); err == nil {
		d.Templates = res.Msg.GetTemplates()
	}
	if res, err := s.api.Segments.ListSegments(ctx, connect.NewRequest(&membersv1.ListSegmentsRequest{Community: s.opts.Community})); err == nil {
		d.Segments = res.Msg.GetSegments()
	}
	switch res, err := s.api.Announcements.GetSendingPolicy(ctx, connect.NewRequest(&commsv1.GetSendingPolicyRequest{Community: s.opts.Community})); {
	case err != nil:
		d.QuietUnknown = true
	case res.Msg.GetQuietHoursStart() != "":
		d.Quiet = res.Msg
	}
	return d
}

func (s *Server) announcementNew(w http.ResponseWriter, r *http.Request, c *call) {
	v := url.Values{"time_zone": {"UTC"}, "template": {r.URL.Query().Get("template")}, "segment": {r.URL.Query().Get("segment")}}
	s.render(w, r, c, http.StatusOK, "announcement", "New announcement", "communications", s.announcementForm(r, newForm(v)))
}

// announcementCreate queues the announcement. The form carries an
// idempotency key made when it was shown, so a double submit sends once.
func (s *Server) announcementCreate(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	ctx := r.Context()
	req := &commsv1.CreateAnnouncementRequest{Community: s.opts.Community, Template: v.Get("template"),
		Kind: commsv1.AnnouncementKind_ANNOUNCEMENT_KIND_ANNOUNCEMENT, Webhooks: v.Get("webhooks") == "on", IdempotencyKey: v.Get("idempotency_key")}
	if seg := v.Get("segment"); seg != "" {
		res, err := s.api.Segments.ListSegments(ctx, connect.NewRequest(&membersv1.ListSegmentsRequest{Community: s.opts.Community}))
		if err != nil {
			form.apply(err, nil)
		} else {
			for _, sg := range res.Msg.GetSegments() {
				if sg.GetId() == seg {
					req.Filter = sg.GetFilter()
				}
			}
			if req.Filter == nil {
				form.Set("segment", "choose a saved segment")
			}
		}
	} else {
		req.Filter = &membersv1.SegmentFilter{}
	}
	if at := strings.TrimSpace(v.Get("send_at")); at != "" {
		loc, err := time.LoadLocation(v.Get("time_zone"))
		if err != nil {
			form.Set("time_zone", "must be an IANA time zone such as Europe/Berlin")
		} else if t, err := time.ParseInLocation(localTime, at, loc); err != nil {
			form.Set("send_at", "must be a date and time")
		} else {
			req.SendAt = timestamppb.New(t)
		}
	}
	if !form.Failed() {
		res, err := s.api.Announcements.CreateAnnouncement(ctx, connect.NewRequest(req))
		if err == nil {
			seeOther(w, r, "/communications/announcements/"+url.PathEscape(res.Msg.GetAnnouncement().GetId()), "announcement-queued")
			return
		}
		form.apply(err, map[string]string{"filter": "segment"})
	}
	s.render(w, r, c, http.StatusBadRequest, "announcement", "New announcement", "communications", s.announcementForm(r, form))
}

type announcementPage struct {
	Announcement *commsv1.Announcement
	Messages     []*commsv1.Message
	Names        map[string]string
	Pager        pager
}

func (s *Server) announcementDetail(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	id := r.PathValue("id")
	res, err := s.api.Announcements.GetAnnouncement(ctx, connect.NewRequest(&commsv1.GetAnnouncementRequest{Community: s.opts.Community, Id: id}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	d := announcementPage{Announcement: res.Msg.GetAnnouncement()}
	q := r.URL.Query()
	if dr, err := s.api.Messages.ListDeliveries(ctx, connect.NewRequest(&commsv1.ListDeliveriesRequest{Community: s.opts.Community,
		AnnouncementId: id, PageSize: pageSize, PageToken: q.Get("page")})); err == nil {
		d.Messages = dr.Msg.GetMessages()
		d.Pager = pagerFor("/communications/announcements/"+id, q, dr.Msg.GetNextPageToken())
	}
	s.render(w, r, c, http.StatusOK, "announcementdetail", "Announcement", "communications", d)
}

func (s *Server) announcementCancel(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	if _, err := s.api.Announcements.CancelAnnouncement(r.Context(), connect.NewRequest(&commsv1.CancelAnnouncementRequest{Community: s.opts.Community, Id: id})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/communications/announcements/"+url.PathEscape(id), "announcement-cancelled")
}

type deliveriesPage struct {
	Messages     []*commsv1.Message
	Suppressions []*commsv1.Suppression
	More         int
	MemberID     string
	Pager        pager
}

// maxSuppressionsShown bounds the suppression list on the page (the API
// returns it whole).
const maxSuppressionsShown = 200

func (s *Server) deliveries(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	q := r.URL.Query()
	d := deliveriesPage{MemberID: q.Get("member")}
	res, err := s.api.Messages.ListDeliveries(ctx, connect.NewRequest(&commsv1.ListDeliveriesRequest{Community: s.opts.Community,
		MemberId: d.MemberID, PageSize: pageSize, PageToken: q.Get("page")}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	d.Messages = res.Msg.GetMessages()
	d.Pager = pagerFor("/communications/deliveries", q, res.Msg.GetNextPageToken())
	if sr, err := s.api.Announcements.ListSuppressions(ctx, connect.NewRequest(&commsv1.ListSuppressionsRequest{Community: s.opts.Community})); err == nil {
		all := sr.Msg.GetSuppressions()
		if len(all) > maxSuppressionsShown {
			d.More = len(all) - maxSuppressionsShown
			all = all[:maxSuppressionsShown]
		}
		d.Suppressions = all
	}
	s.render(w, r, c, http.StatusOK, "deliveries", "Delivery log", "communications", d)
}

func (s *Server) suppressionRemove(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if _, err := s.api.Announcements.RemoveSuppression(r.Context(), connect.NewRequest(&commsv1.RemoveSuppressionRequest{Community: s.opts.Community, Email: v.Get("email")})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/communications/deliveries", "suppression-removed")
}

type webhooksPage struct {
	Form     *Form
	Webhooks []*commsv1.Webhook
	Created  *commsv1.Webhook
	Secret   string
	Formats  []string
}

func (s *Server) webhooksPage(r *http.Request, form *Form) (webhooksPage, error) {
	res, err := s.api.Announcements.ListWebhooks(r.Context(), connect.NewRequest(&commsv1.ListWebhooksRequest{Community: s.opts.Community}))
	if err != nil {
		return webhooksPage{}, err
	}
	return webhooksPage{Form: form, Webhooks: res.Msg.GetWebhooks(), Formats: []string{"generic", "slack", "discord", "matrix"}}, nil
}

func (s *Server) webhooks(w http.ResponseWriter, r *http.Request, c *call) {
	d, err := s.webhooksPage(r, newForm(url.Values{"format": {"generic"}}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "webhooks", "Webhooks", "communications", d)
}

// webhookCreate adds a webhook and shows its signing secret, once.
func (s *Server) webhookCreate(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	format := commsv1.WebhookFormat(commsv1.WebhookFormat_value["WEBHOOK_FORMAT_"+strings.ToUpper(v.Get("format"))])
	res, err := s.api.Announcements.CreateWebhook(r.Context(), connect.NewRequest(&commsv1.CreateWebhookRequest{Community: s.opts.Community,
		Url: strings.TrimSpace(v.Get("url")), Format: format}))
	status := http.StatusOK
	if err != nil {
		form.apply(err, nil)
		status = http.StatusBadRequest
	}
	d, lerr := s.webhooksPage(r, form)
	if lerr != nil {
		s.apiFailed(w, r, c, lerr)
		return
	}
	if err == nil {
		d.Created, d.Secret = res.Msg.GetWebhook(), res.Msg.GetSecret()
		d.Form = newForm(url.Values{"format": {"generic"}})
	}
	s.render(w, r, c, status, "webhooks", "Webhooks", "communications", d)
}

func (s *Server) webhookDelete(w http.ResponseWriter, r *http.Request, c *call) {
	if _, err := s.api.Announcements.DeleteWebhook(r.Context(), connect.NewRequest(&commsv1.DeleteWebhookRequest{Community: s.opts.Community, Id: r.PathValue("id")})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/communications/webhooks", "webhook-deleted")
}
