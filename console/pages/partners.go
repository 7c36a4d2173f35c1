package pages

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
)

var partnerStages = []partnersv1.PartnerStatus{
	partnersv1.PartnerStatus_PARTNER_STATUS_PROSPECT, partnersv1.PartnerStatus_PARTNER_STATUS_IN_CONVERSATION,
	partnersv1.PartnerStatus_PARTNER_STATUS_ACTIVE, partnersv1.PartnerStatus_PARTNER_STATUS_LAPSED,
}

func enumLabel(s, prefix string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s, prefix)), "_", " ")
}

type boardColumn struct {
	Status   string
	Label    string
	Partners []*partnersv1.Partner
	More     bool
}

type boardPage struct {
	Columns  []boardColumn
	Expiring []*partnersv1.ExpiringAgreement
}

// boardSize bounds each pipeline column.
const boardSize = 50

// partnersBoard is the pipeline: one column per stage.
func (s *Server) partnersBoard(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	var d boardPage
	for _, st := range partnerStages {
		res, err := s.api.Partners.ListPartners(ctx, connect.NewRequest(&partnersv1.ListPartnersRequest{Community: s.opts.Community,
			PageSize: boardSize, Statuses: []partnersv1.PartnerStatus{st}}))
		if err != nil {
			s.apiFailed(w, r, c, err)
			return
		}
		d.Columns = append(d.Columns, boardColumn{Status: st.String(), Label: enumLabel(st.String(), "PARTNER_STATUS_"),
			Partners: res.Msg.GetPartners(), More: res.Msg.GetNextPageToken() != ""})
	}
	if er, err := s.api.Reports.ExpiringAgreements(ctx, connect.NewRequest(&partnersv1.ExpiringAgreementsRequest{Community: s.opts.Community, WithinDays: 90})); err == nil {
		d.Expiring = er.Msg.GetAgreements()
	}
	s.render(w, r, c, http.StatusOK, "partners", "Partners", "partners", d)
}

type gridPoint struct {
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Label string  `json:"label"`
}

type gridPage struct {
	Quadrants   map[string][]*partnersv1.Partner
	NotAssessed []*partnersv1.Partner
	Chart       map[string]any
}

// stakeholderGrid places partners by influence and interest.
func (s *Server) stakeholderGrid(w http.ResponseWriter, r *http.Request, c *call) {
	res, err := s.api.Reports.StakeholderGrid(r.Context(), connect.NewRequest(&partnersv1.StakeholderGridRequest{Community: s.opts.Community}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	d := gridPage{Quadrants: map[string][]*partnersv1.Partner{}, NotAssessed: res.Msg.GetNotAssessed()}
	var points []gridPoint
	for _, q := range res.Msg.GetQuadrants() {
		d.Quadrants[q.GetQuadrant().String()] = q.GetPartners()
		for i, p := range q.GetPartners() {
			// A small offset keeps partners on the same square apart.
			off := float64(i%5-2) * 0.06
			points = append(points, gridPoint{X: float64(p.GetStakeholder().GetInterest()) + off,
				Y: float64(p.GetStakeholder().GetInfluence()) - off, Label: p.GetName()})
		}
	}
	d.Chart = map[string]any{
		"type": "scatter",
		"data": map[string]any{"datasets": []map[string]any{{"label": "Partners", "data": points, "backgroundColor": "#2f3f9e", "pointRadius": 6}}},
		"options": map[string]any{
			"parsing": map[string]any{"xAxisKey": "x", "yAxisKey": "y"},
			"scales": map[string]any{
				"x": map[string]any{"min": 0.5, "max": 5.5, "title": map[string]any{"display": true, "text": "Interest"}},
				"y": map[string]any{"min": 0.5, "max": 5.5, "title": map[string]any{"display": true, "text": "Influence"}},
			},
			"plugins": map[string]any{"legend": map[string]any{"display": false}},
		},
	}
	s.render(w, r, c, http.StatusOK, "grid", "Stakeholder grid", "partners", d)
}

type partnerForm struct {
	Form  *Form
	Kinds []string
}

func partnerKinds() []string {
	var out []string
	for i := 1; i < len(partnersv1.PartnerKind_name); i++ {
		out = append(out, strings.ToLower(strings.TrimPrefix(partnersv1.PartnerKind_name[int32(i)], "PARTNER_KIND_")))
	}
	return out
}

func (s *Server) partnerNew(w http.ResponseWriter, r *http.Request, c *call) {
	s.render(w, r, c, http.StatusOK, "partnernew", "New partner", "partners", partnerForm{Form: newForm(url.Values{"kind": {"ngo"}}), Kinds: partnerKinds()})
}

func atoi32(v string, field string, f *Form) int32 {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		f.Set(field, "must be a whole number")
	}
	return int32(n)
}

func (s *Server) partnerCreate(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	req := &partnersv1.AddPartnerRequest{Community: s.opts.Community, Name: strings.TrimSpace(v.Get("name")),
		Kind:   partnersv1.PartnerKind(partnersv1.PartnerKind_value["PARTNER_KIND_"+strings.ToUpper(v.Get("kind"))]),
		Sector: strings.TrimSpace(v.Get("sector")), Website: strings.TrimSpace(v.Get("website")), CountryCode: strings.ToUpper(strings.TrimSpace(v.Get("country_code"))),
		Stakeholder: &partnersv1.Stakeholder{Influence: atoi32(v.Get("stakeholder.influence"), "stakeholder.influence", form),
			Interest: atoi32(v.Get("stakeholder.interest"), "stakeholder.interest", form), OwnerId: c.ss.MemberID,
			NextReviewDate: strings.TrimSpace(v.Get("stakeholder.next_review_date"))}}
	if !form.Failed() {
		res, err := s.api.Partners.AddPartner(r.Context(), connect.NewRequest(req))
		if err == nil {
			seeOther(w, r, "/partners/"+url.PathEscape(res.Msg.GetPartner().GetId()), "partner-created")
			return
		}
		form.apply(err, nil)
	}
	s.render(w, r, c, http.StatusBadRequest, "partnernew", "New partner", "partners", partnerForm{Form: form, Kinds: partnerKinds()})
}

type partnerPage struct {
	Partner       *partnersv1.Partner
	History       []*partnersv1.StatusChange
	Contacts      []*partnersv1.Contact
	Agreements    []*partnersv1.Agreement
	Contributions []*partnersv1.Contribution
	Totals        []*partnersv1.ContributionGroup
	Form          *Form
	Stages        []string
	AgreementKind []string
	Contribution  []string
}

func (s *Server) loadPartner(r *http.Request, id string, form *Form) (partnerPage, error) {
	ctx := r.Context()
	res, err := s.api.Partners.GetPartner(ctx, connect.NewRequest(&partnersv1.GetPartnerRequest{Community: s.opts.Community, Id: id}))
	if err != nil {
		return partnerPage{}, err
	}
	d := partnerPage{Partner: res.Msg.GetPartner(), History: res.Msg.GetHistory(), Form: form,
		AgreementKind: []string{"mou", "sponsorship", "venue", "data_sharing"}, Contribution: []string{"money", "in_kind", "venue", "volunteer_hours"}}
	for _, st := range partnerStages {
		d.Stages = append(d.Stages, strings.ToLower(strings.TrimPrefix(st.String(), "PARTNER_STATUS_")))
	}
	if cr, err := s.api.Contacts.ListContacts(ctx, connect.NewRequest(&partnersv1.ListContactsRequest{Community: s.opts.Community, PartnerId: id})); err == nil {
		d.Contacts = cr.Msg.GetContacts()
	}
	if ar, err := s.api.Agreements.ListAgreements(ctx, connect.NewRequest(&partnersv1.ListAgreementsRequest{Community: s.opts.Community, PartnerId: id, PageSize: pageSize})); err == nil {
		d.Agreements = ar.Msg.GetAgreements()
	}
	if kr, err := s.api.Contributions.ListContributions(ctx, connect.NewRequest(&partnersv1.ListContributionsRequest{Community: s.opts.Community, PartnerId: id, PageSize: 20})); err == nil {
		d.Contributions = kr.Msg.GetContributions()
	}
	if tr, err := s.api.Reports.ContributionTotals(ctx, connect.NewRequest(&partnersv1.ContributionTotalsRequest{Community: s.opts.Community,
		GroupBy: partnersv1.GroupBy_GROUP_BY_PERIOD, Period: partnersv1.Period_PERIOD_YEAR, PartnerId: id})); err == nil {
		d.Totals = tr.Msg.GetGroups()
	}
	return d, nil
}

func (s *Server) partnerDetail(w http.ResponseWriter, r *http.Request, c *call) {
	d, err := s.loadPartner(r, r.PathValue("id"), newForm(url.Values{"currency": {"EUR"}}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "partner", d.Partner.GetName(), "partners", d)
}

// partnerFormFailed shows the partner page again with the form's errors
// and everything typed.
func (s *Server) partnerFormFailed(w http.ResponseWriter, r *http.Request, c *call, id string, form *Form) {
	d, err := s.loadPartner(r, id, form)
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusBadRequest, "partner", d.Partner.GetName(), "partners", d)
}

func (s *Server) partnerStatus(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	_, err = s.api.Partners.ChangePartnerStatus(r.Context(), connect.NewRequest(&partnersv1.ChangePartnerStatusRequest{Community: s.opts.Community, Id: id,
		Status: partnersv1.PartnerStatus(partnersv1.PartnerStatus_value["PARTNER_STATUS_"+strings.ToUpper(v.Get("status"))]), Note: v.Get("note")}))
	if err != nil {
		form := newForm(v)
		form.apply(err, nil)
		s.partnerFormFailed(w, r, c, id, form)
		return
	}
	seeOther(w, r, "/partners/"+url.PathEscape(id), "partner-saved")
}

func (s *Server) contactAdd(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	_, err = s.api.Contacts.AddContact(r.Context(), connect.NewRequest(&partnersv1.AddContactRequest{Community: s.opts.Community, PartnerId: id,
		Name: strings.TrimSpace(v.Get("contact_name")), Email: strings.TrimSpace(v.Get("contact_email")), Phone: strings.TrimSpace(v.Get("phone")),
		Role: strings.TrimSpace(v.Get("role")), Primary: v.Get("primary") == "on", EmailConsent: v.Get("email_consent") == "on",
		ConsentSource: "console", PolicyVersion: v.Get("policy_version")}))
	if err != nil {
		form := newForm(v)
		form.apply(err, map[string]string{"name": "contact_name", "email": "contact_email"})
		s.partnerFormFailed(w, r, c, id, form)
		return
	}
	seeOther(w, r, "/partners/"+url.PathEscape(id), "contact-added")
}

// money reads an amount such as 1250.50 into minor units.
func moneyOf(amount, currency, field string, f *Form) *partnersv1.Money {
	amount = strings.TrimSpace(amount)
	if amount == "" {
		return nil
	}
	x, err := strconv.ParseFloat(strings.ReplaceAll(amount, ",", ""), 64)
	if err != nil || x < 0 {
		f.Set(field, "must be an amount such as 1250.50")
		return nil
	}
	return &partnersv1.Money{CurrencyCode: strings.ToUpper(strings.TrimSpace(currency)), AmountMinor: int64(math.Round(x * 100))}
}

func (s *Server) agreementCreate(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	req := &partnersv1.CreateAgreementRequest{Community: s.opts.Community, PartnerId: id,
		Kind:  partnersv1.AgreementKind(partnersv1.AgreementKind_value["AGREEMENT_KIND_"+strings.ToUpper(v.Get("agreement_kind"))]),
		Title: strings.TrimSpace(v.Get("title")), StartDate: v.Get("start_date"), EndDate: v.Get("end_date"),
		Value: moneyOf(v.Get("agreement_value"), v.Get("currency"), "agreement_value", form), DocumentUrl: strings.TrimSpace(v.Get("document_url"))}
	if !form.Failed() {
		if _, err = s.api.Agreements.CreateAgreement(r.Context(), connect.NewRequest(req)); err == nil {
			seeOther(w, r, "/partners/"+url.PathEscape(id), "agreement-created")
			return
		}
		form.apply(err, map[string]string{"kind": "agreement_kind", "value": "agreement_value", "value.amount_minor": "agreement_value", "value.currency_code": "currency"})
	}
	s.partnerFormFailed(w, r, c, id, form)
}

func (s *Server) contributionAdd(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	req := &partnersv1.RecordContributionRequest{Community: s.opts.Community, PartnerId: id,
		Kind: partnersv1.ContributionKind(partnersv1.ContributionKind_value["CONTRIBUTION_KIND_"+strings.ToUpper(v.Get("contribution_kind"))]),
		Date: v.Get("date"), Description: v.Get("description"), Value: moneyOf(v.Get("contribution_value"), v.Get("currency"), "contribution_value", form),
		Goal: strings.TrimSpace(v.Get("goal")), EventId: strings.TrimSpace(v.Get("event_id"))}
	if h := strings.TrimSpace(v.Get("hours")); h != "" {
		x, err := strconv.ParseFloat(h, 64)
		if err != nil || x < 0 {
			form.Set("hours", "must be a number of hours")
		}
		req.VolunteerMinutes = int64(math.Round(x * 60))
	}
	if !form.Failed() {
		if _, err = s.api.Contributions.RecordContribution(r.Context(), connect.NewRequest(req)); err == nil {
			seeOther(w, r, "/partners/"+url.PathEscape(id), "contribution-added")
			return
		}
		form.apply(err, map[string]string{"kind": "contribution_kind", "value": "contribution_value", "value.amount_minor": "contribution_value",
			"value.currency_code": "currency", "volunteer_minutes": "hours"})
	}
	s.partnerFormFailed(w, r, c, id, form)
}

type agreementsPage struct {
	Agreements []*partnersv1.Agreement
	Expiring   []*partnersv1.ExpiringAgreement
	Pager      pager
}

func (s *Server) agreementsList(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	q := r.URL.Query()
	res, err := s.api.Agreements.ListAgreements(ctx, connect.NewRequest(&partnersv1.ListAgreementsRequest{Community: s.opts.Community, PageSize: pageSize, PageToken: q.Get("page")}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	d := agreementsPage{Agreements: res.Msg.GetAgreements(), Pager: pagerFor("/partners/agreements", q, res.Msg.GetNextPageToken())}
	if er, err := s.api.Reports.ExpiringAgreements(ctx, connect.NewRequest(&partnersv1.ExpiringAgreementsRequest{Community: s.opts.Community, WithinDays: 90})); err == nil {
		d.Expiring = er.Msg.GetAgreements()
	}
	s.render(w, r, c, http.StatusOK, "agreements", "Agreements", "partners", d)
}
