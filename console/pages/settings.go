package pages

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/audit/auditclient"
)

type settingsPage struct {
	Form     *Form
	Keys     []*membersv1.APIKey
	Created  *membersv1.APIKey
	Secret   string
	KeyRoles []string
	Team     []*membersv1.SegmentMember
	TeamMore bool
	Settings *membersv1.CommunitySettings
	// Community is the community settings form: what was typed, or the
	// current settings.
	Community *Form
}

func (s *Server) settingsPage(r *http.Request, form *Form) (settingsPage, error) {
	ctx := r.Context()
	d := settingsPage{Form: form, KeyRoles: []string{"organiser", "staff", "ambassador", "member"}}
	var g errgroup.Group
	g.Go(func() error {
		tr, err := s.api.Segments.ListSegmentMembers(ctx, connect.NewRequest(&membersv1.ListSegmentMembersRequest{Community: s.opts.Community,
			Filter: &membersv1.SegmentFilter{Roles: []string{"organiser", "staff", "ambassador"}}, PageSize: pageSize}))
		if err == nil {
			d.Team, d.TeamMore = tr.Msg.GetMembers(), tr.Msg.GetNextPageToken() != ""
		}
		return nil
	})
	g.Go(func() error {
		if sr, err := s.api.Engagement.GetCommunitySettings(ctx, connect.NewRequest(&membersv1.GetCommunitySettingsRequest{Community: s.opts.Community})); err == nil {
			d.Settings = sr.Msg.GetSettings()
		}
		return nil
	})
	res, err := s.api.Access.ListAPIKeys(ctx, connect.NewRequest(&membersv1.ListAPIKeysRequest{Community: s.opts.Community}))
	_ = g.Wait()
	if err != nil {
		return d, err
	}
	d.Community = newForm(nil)
	fillSettingsForm(d.Community, d.Settings)
	d.Keys = res.Msg.GetKeys()
	return d, nil
}

// settings shows the API keys, the organising team and the community's
// vocabularies and levels.
func (s *Server) settings(w http.ResponseWriter, r *http.Request, c *call) {
	d, err := s.settingsPage(r, newForm(nil))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "settings", "Settings", "settings", d)
}

// keyCreate makes an API key and shows its secret this once.
func (s *Server) keyCreate(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	res, err := s.api.Access.CreateAPIKey(r.Context(), connect.NewRequest(&membersv1.CreateAPIKeyRequest{Community: s.opts.Community,
		Name: strings.TrimSpace(v.Get("name")), Roles: v["roles"]}))
	status := http.StatusOK
	if err != nil {
		form.apply(err, nil)
		status = http.StatusBadRequest
	}
	d, lerr := s.settingsPage(r, form)
	if lerr != nil {
		s.apiFailed(w, r, c, lerr)
		return
	}
	if err == nil {
		d.Created, d.Secret, d.Form = res.Msg.GetKey(), res.Msg.GetSecret(), newForm(nil)
	}
	s.render(w, r, c, status, "settings", "Settings", "settings", d)
}

func (s *Server) keyRevoke(w http.ResponseWriter, r *http.Request, c *call) {
	if _, err := s.api.Access.RevokeAPIKey(r.Context(), connect.NewRequest(&membersv1.RevokeAPIKeyRequest{Community: s.opts.Community, Id: r.PathValue("id")})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/settings", "key-revoked")
}

type auditPage struct {
	Entries []*auditv1.AuditEntry
	Days    int
	Pager   pager
}

// audit is the community's whole audit trail, every service's log merged
// newest first.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	d := auditPage{}
	query := auditclient.Query{Community: s.opts.Community, PageSize: pageSize, PageToken: q.Get("page")}
	if days, err := strconv.Atoi(q.Get("days")); err == nil && days > 0 {
		d.Days = days
		query.Since = timestamppb.New(time.Now().AddDate(0, 0, -days))
	}
	page, err := s.api.Audit.List(r.Context(), query)
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	d.Entries = page.Entries
	d.Pager = pagerFor("/audit", q, page.NextPageToken)
	s.render(w, r, c, http.StatusOK, "audit", "Audit log", "audit", d)
}
