package pages

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	commsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

// pageSize is the length of every list page: lists never load more.
const pageSize = 50

// consentPurposes are the purposes of the consent ledger.
var consentPurposes = []string{"email.announcements", "email.digest", "analytics", "profile.visible_to_members"}

var memberStatuses = []string{"invited", "active", "inactive", "left"}

// filterFromQuery reads a segment filter from a page's query (the
// segment builder's fields). An unreadable date is reported by field.
func filterFromQuery(q url.Values, f *Form) *membersv1.SegmentFilter {
	sf := &membersv1.SegmentFilter{
		Interests:    splitTags(strings.Join(q["interests"], ",")),
		Skills:       splitTags(q.Get("skills")),
		CountryCodes: splitTags(strings.ToUpper(q.Get("countries"))),
		Cities:       splitTags(q.Get("cities")),
		Levels:       q["levels"],
		Statuses:     q["statuses"],
		Roles:        q["roles"],
		Consents:     q["consents"],
		Goals:        splitTags(q.Get("goals")),
	}
	date := func(name string) *timestamppb.Timestamp {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			f.Set(name, "must be a date such as 2026-03-31")
			return nil
		}
		return timestamppb.New(t)
	}
	sf.JoinedAfter = date("joined_after")
	sf.JoinedBefore = date("joined_before")
	sf.LastActiveAfter = date("last_active_after")
	sf.LastActiveBefore = date("last_active_before")
	return sf
}

func filterEmpty(sf *membersv1.SegmentFilter) bool {
	return len(sf.GetInterests())+len(sf.GetSkills())+len(sf.GetCountryCodes())+len(sf.GetCities())+len(sf.GetLevels())+
		len(sf.GetStatuses())+len(sf.GetRoles())+len(sf.GetConsents())+len(sf.GetGoals()) == 0 &&
		sf.GetJoinedAfter() == nil && sf.GetJoinedBefore() == nil && sf.GetLastActiveAfter() == nil && sf.GetLastActiveBefore() == nil
}

// filterAliases map the API's filter field names to the builder's.
var filterAliases = map[string]string{
	"filter.statuses": "statuses", "filter.joined_after": "joined_after", "filter.last_active_after": "last_active_after",
	"filter.levels": "levels", "filter.interests": "interests", "filter.consents": "consents", "filter.roles": "roles",
}

type memberRow struct {
	ID, Name, Email, Status, Level string
	Joined                         *timestamppb.Timestamp
}

type membersPage struct {
	Form     *Form
	Rows     []memberRow
	Full     bool // rows carry e-mail and status (no filter)
	Count    int64
	Counted  bool
	Segments []*membersv1.Segment
	Segment  string
	Settings *membersv1.CommunitySettings
	Statuses []string
	Consents []string
	Roles    []string
	Pager    pager
	// Search is the text the member search was given; the list then
	// holds the members it finds.
	Search string
	Query  string
	// Hidden carries the current filter into the save-segment form and
	// the search form.
	Hidden []kv
	// Within is set when the search looks inside the segment or filter.
	Within bool
}

// withSearchAlias adds the search box to aliases of the API's fields.
func withSearchAlias(aliases map[string]string) map[string]string {
	out := map[string]string{"query": "q"}
	for k, v := range aliases {
		out[k] = v
	}
	return out
}

type kv struct{ K, V string }

func hiddenFilter(q url.Values) []kv {
	var out []kv
	for _, k := range []string{"interests", "statuses", "levels", "roles", "consents", "countries", "cities", "skills", "goals",
		"joined_after", "joined_before", "last_active_after", "last_active_before"} {
		for _, v := range q[k] {
			out = append(out, kv{k, v})
		}
	}
	return out
}

type pager struct{ First, Next string }

func pagerFor(path string, q url.Values, next string) pager {
	var p pager
	if q.Get("page") != "" {
		first := cloneValues(q)
		first.Del("page")
		first.Del("notice")
		p.First = path + "?" + first.Encode()
	}
	if next != "" {
		n := cloneValues(q)
		n.Set("page", next)
		n.Del("notice")
		p.Next = path + "?" + n.Encode()
	}
	return p
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// membersList is the member list with the segment builder: filters live in
// the URL, each page holds at most pageSize members, and the count is one
// CountSegment call. The calls behind the page run in parallel.
func (s *Server) membersList(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	q := r.URL.Query()
	form := newForm(q)
	data := membersPage{Form: form, Statuses: memberStatuses, Consents: consentPurposes,
		Roles: []string{"member", "ambassador", "staff", "organiser"}, Segment: q.Get("segment")}
	sf := filterFromQuery(q, form)
	if form.Failed() {
		s.builderData(r, &data)
		s.render(w, r, c, http.StatusBadRequest, "members", "Members", "members", data)
		return
	}
	data.Search = q.Get("q")
	if data.Search != "" && data.Segment == "" && filterEmpty(sf) {
		s.membersSearch(w, r, c, data)
		return
	}
	// A search within a segment or filter lists and counts what both select.
	data.Within = data.Search != ""
	var g errgroup.Group
	g.Go(func() error { s.builderData(r, &data); return nil })
	g.Go(func() error {
		creq := &membersv1.CountSegmentRequest{Community: s.opts.Community, SegmentId: data.Segment, Query: data.Search}
		if data.Segment == "" {
			creq.Filter = sf
		}
		if res, err := s.api.Segments.CountSegment(ctx, connect.NewRequest(creq)); err == nil {
			data.Count, data.Counted = res.Msg.GetCount(), true
		}
		return nil
	})
	var next string
	var listErr error
	var aliases map[string]string
	switch {
	case data.Segment == "" && filterEmpty(sf):
		res, err := s.api.Members.ListMembers(ctx, connect.NewRequest(&membersv1.ListMembersRequest{
			Community: s.opts.Community, PageSize: pageSize, PageToken: q.Get("page")}))
		if err != nil {
			listErr = err
			break
		}
		data.Full = true
		for _, m := range res.Msg.GetMembers() {
			data.Rows = append(data.Rows, memberRow{ID: m.GetId(), Name: m.GetDisplayName(), Email: m.GetEmail(),
				Status: statusName(m.GetStatus()), Level: m.GetLevel(), Joined: m.GetJoinedAt()})
		}
		next = res.Msg.GetNextPageToken()
	default:
		req := &membersv1.ListSegmentMembersRequest{Community: s.opts.Community, PageSize: pageSize, PageToken: q.Get("page"), Query: data.Search}
		if data.Segment != "" {
			req.SegmentId = data.Segment
		} else {
			req.Filter = sf
		}
		res, err := s.api.Segments.ListSegmentMembers(ctx, connect.NewRequest(req))
		if err != nil {
			listErr, aliases = err, withSearchAlias(filterAliases)
			break
		}
		for _, m := range res.Msg.GetMembers() {
			data.Rows = append(data.Rows, memberRow{ID: m.GetId(), Name: m.GetDisplayName(), Level: m.GetLevel()})
		}
		next = res.Msg.GetNextPageToken()
	}
	_ = g.Wait()
	status := http.StatusOK
	if listErr != nil {
		form.apply(listErr, aliases)
		data.Counted = false
		status = http.StatusBadRequest
	}
	data.Pager = pagerFor("/members", q, next)
	data.Hidden = hiddenFilter(q)
	eq := cloneValues(q)
	eq.Del("page")
	eq.Del("notice")
	data.Query = eq.Encode()
	s.render(w, r, c, status, "members", "Members", "members", data)
}

// membersSearch lists the members whose name or address the search
// (?q=) finds, a page at a time, beside the segment builder.
func (s *Server) membersSearch(w http.ResponseWriter, r *http.Request, c *call, data membersPage) {
	q := r.URL.Query()
	var g errgroup.Group
	g.Go(func() error { s.builderData(r, &data); return nil })
	res, err := s.api.Members.ListMembers(r.Context(), connect.NewRequest(&membersv1.ListMembersRequest{
		Community: s.opts.Community, PageSize: pageSize, PageToken: q.Get("page"), Query: data.Search}))
	_ = g.Wait()
	status, next := http.StatusOK, ""
	if err != nil {
		data.Form.apply(err, map[string]string{"query": "q"})
		status = http.StatusBadRequest
	} else {
		data.Full = true
		for _, m := range res.Msg.GetMembers() {
			data.Rows = append(data.Rows, memberRow{ID: m.GetId(), Name: m.GetDisplayName(), Email: m.GetEmail(),
				Status: statusName(m.GetStatus()), Level: m.GetLevel(), Joined: m.GetJoinedAt()})
		}
		next = res.Msg.GetNextPageToken()
	}
	data.Pager = pagerFor("/members", q, next)
	s.render(w, r, c, status, "members", "Members", "members", data)
}

// builderData loads what the segment builder offers: the community's
// vocabularies and levels, and the saved segments (in parallel).
func (s *Server) builderData(r *http.Request, data *membersPage) {
	ctx := r.Context()
	var g errgroup.Group
	g.Go(func() error {
		if res, err := s.api.Engagement.GetCommunitySettings(ctx, connect.NewRequest(&membersv1.GetCommunitySettingsRequest{Community: s.opts.Community})); err == nil {
			data.Settings = res.Msg.GetSettings()
		}
		return nil
	})
	g.Go(func() error {
		if res, err := s.api.Segments.ListSegments(ctx, connect.NewRequest(&membersv1.ListSegmentsRequest{Community: s.opts.Community})); err == nil {
			data.Segments = res.Msg.GetSegments()
		}
		return nil
	})
	_ = g.Wait()
}

// membersCount answers the segment builder's live count (an htmx swap).
func (s *Server) membersCount(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	form := newForm(q)
	sf := filterFromQuery(q, form)
	data := map[string]any{"Form": form}
	if !form.Failed() {
		res, err := s.api.Segments.CountSegment(r.Context(), connect.NewRequest(&membersv1.CountSegmentRequest{Community: s.opts.Community, Filter: sf}))
		if err != nil {
			form.apply(err, filterAliases)
		} else {
			data["Count"] = res.Msg.GetCount()
		}
	}
	s.fragment(w, r, c, "members", "count", data)
}

func (s *Server) segmentSave(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	sf := filterFromQuery(v, form)
	name := strings.TrimSpace(v.Get("segment_name"))
	if name == "" {
		form.Set("segment_name", "give the segment a name")
	}
	if !form.Failed() {
		_, err := s.api.Segments.CreateSegment(r.Context(), connect.NewRequest(&membersv1.CreateSegmentRequest{Community: s.opts.Community, Name: name, Filter: sf}))
		if err == nil {
			q := cloneValues(v)
			q.Del("_csrf")
			q.Del("segment_name")
			seeOther(w, r, "/members?"+q.Encode(), "segment-saved")
			return
		}
		form.apply(err, map[string]string{"name": "segment_name"})
	}
	// Show the builder again with everything typed.
	r.URL.RawQuery = encodeWithout(v, "_csrf")
	s.membersListWith(w, r, c, form)
}

func encodeWithout(v url.Values, drop ...string) string {
	q := cloneValues(v)
	for _, d := range drop {
		q.Del(d)
	}
	return q.Encode()
}

// membersListWith shows the list page with a failed form.
func (s *Server) membersListWith(w http.ResponseWriter, r *http.Request, c *call, form *Form) {
	data := membersPage{Form: form, Statuses: memberStatuses, Consents: consentPurposes, Roles: []string{"member", "ambassador", "staff", "organiser"},
		Hidden: hiddenFilter(form.Values)}
	s.builderData(r, &data)
	s.render(w, r, c, http.StatusBadRequest, "members", "Members", "members", data)
}

func (s *Server) segmentDelete(w http.ResponseWriter, r *http.Request, c *call) {
	_, err := s.api.Segments.DeleteSegment(r.Context(), connect.NewRequest(&membersv1.DeleteSegmentRequest{Community: s.opts.Community, Id: r.PathValue("id")}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/members", "segment-deleted")
}

func statusName(st membersv1.MemberStatus) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "MEMBER_STATUS_"))
}

func (s *Server) memberNew(w http.ResponseWriter, r *http.Request, c *call) {
	s.render(w, r, c, http.StatusOK, "membernew", "Add a member", "members", map[string]any{"Form": newForm(url.Values{"email_consent": {"on"}})})
}

// memberCreate adds a member as the organising team: they vouch for the
// address, so the member is created at once.
func (s *Server) memberCreate(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	res, err := s.api.Members.JoinCommunity(r.Context(), connect.NewRequest(&membersv1.JoinCommunityRequest{
		Community: s.opts.Community, Email: strings.TrimSpace(v.Get("email")), DisplayName: strings.TrimSpace(v.Get("display_name")),
		Interests: splitTags(v.Get("interests")), EmailConsent: v.Get("email_consent") == "on",
		Profile: &membersv1.Profile{Locale: v.Get("locale"), TimeZone: v.Get("time_zone"),
			Location: &membersv1.Location{City: v.Get("city"), CountryCode: strings.ToUpper(v.Get("country_code"))}},
		Source: &membersv1.Source{Kind: membersv1.SourceKind_SOURCE_KIND_ORGANIC},
	}))
	if err == nil && res.Msg.GetMember().GetId() != "" {
		seeOther(w, r, "/members/"+url.PathEscape(res.Msg.GetMember().GetId()), "member-created")
		return
	}
	if err == nil {
		form.Problem = "The member was not returned; look them up in the list."
	} else {
		form.apply(err, map[string]string{"profile.locale": "locale", "profile.time_zone": "time_zone", "location.country_code": "country_code", "profile.location.country_code": "country_code"})
	}
	s.render(w, r, c, http.StatusBadRequest, "membernew", "Add a member", "members", map[string]any{"Form": form})
}

type memberDetail struct {
	Member     *membersv1.Member
	Consents   *membersv1.GetConsentsResponse
	Engagement *membersv1.GetEngagementResponse
	Onboarding *journeysv1.Journey
	Ambassador *journeysv1.Journey
	Messages   []*commsv1.Message
	// RSVPs are the member's answers to events from today on, with the
	// events' titles.
	RSVPs       []*eventsv1.RSVP
	EventTitles map[string]string
	Form        *Form
	Purposes    []string
	Roles       []string
	Erased      bool
}

func (s *Server) loadMember(r *http.Request, id string) (memberDetail, error) {
	ctx := r.Context()
	res, err := s.api.Members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: s.opts.Community, Id: id}))
	if err != nil {
		return memberDetail{}, err
	}
	d := memberDetail{Member: res.Msg.GetMember(), Purposes: consentPurposes, Roles: []string{"member", "ambassador", "staff", "organiser"}}
	d.Erased = d.Member.GetStatus() == membersv1.MemberStatus_MEMBER_STATUS_ERASED
	// The rest of the page is optional: each part is left out when its
	// service does not answer, and they are asked in parallel.
	var g errgroup.Group
	g.Go(func() error {
		if cr, err := s.api.Members.GetConsents(ctx, connect.NewRequest(&membersv1.GetConsentsRequest{Community: s.opts.Community, MemberId: id})); err == nil {
			d.Consents = cr.Msg
		}
		return nil
	})
	g.Go(func() error {
		if er, err := s.api.Engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{Community: s.opts.Community, MemberId: id})); err == nil {
			d.Engagement = er.Msg
		}
		return nil
	})
	g.Go(func() error {
		if jr, err := s.api.Journeys.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: s.opts.Community, MemberId: id})); err == nil {
			d.Onboarding = jr.Msg.GetJourney()
		}
		return nil
	})
	g.Go(func() error {
		if jr, err := s.api.Journeys.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: s.opts.Community, MemberId: id,
			Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR})); err == nil {
			d.Ambassador = jr.Msg.GetJourney()
		}
		return nil
	})
	g.Go(func() error {
		if rr, err := s.api.Attendance.ListMemberRSVPs(ctx, connect.NewRequest(&eventsv1.ListMemberRSVPsRequest{Community: s.opts.Community, MemberId: id, PageSize: 20})); err == nil {
			d.RSVPs = rr.Msg.GetRsvps()
			d.EventTitles = s.eventTitles(ctx, d.RSVPs)
		}
		return nil
	})
	g.Go(func() error {
		if mr, err := s.api.Messages.ListDeliveries(ctx, connect.NewRequest(&commsv1.ListDeliveriesRequest{Community: s.opts.Community, MemberId: id, PageSize: 10})); err == nil {
			d.Messages = mr.Msg.GetMessages()
		}
		return nil
	})
	_ = g.Wait()
	return d, nil
}

func (s *Server) memberDetail(w http.ResponseWriter, r *http.Request, c *call) {
	d, err := s.loadMember(r, r.PathValue("id"))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	d.Form = newForm(profileValues(d.Member))
	s.render(w, r, c, http.StatusOK, "member", d.Member.GetDisplayName(), "members", d)
}

func profileValues(m *membersv1.Member) url.Values {
	p := m.GetProfile()
	v := url.Values{}
	v.Set("display_name", m.GetDisplayName())
	v.Set("locale", p.GetLocale())
	v.Set("time_zone", p.GetTimeZone())
	v.Set("city", p.GetLocation().GetCity())
	v.Set("country_code", p.GetLocation().GetCountryCode())
	v.Set("interests", strings.Join(m.GetInterests(), ", "))
	v.Set("skills", strings.Join(p.GetSkills(), ", "))
	v.Set("motivation", p.GetMotivation())
	if p.GetAvailabilityHoursPerMonth() > 0 {
		v.Set("availability_hours_per_month", strconv.Itoa(int(p.GetAvailabilityHoursPerMonth())))
	}
	return v
}

// profileUpdate builds an UpdateProfile request from a profile form,
// naming every field the form holds.
func profileUpdate(community, id string, v url.Values, form *Form) *membersv1.UpdateProfileRequest {
	p := &membersv1.Profile{
		DisplayName: strings.TrimSpace(v.Get("display_name")), Locale: strings.TrimSpace(v.Get("locale")),
		TimeZone: strings.TrimSpace(v.Get("time_zone")), Interests: splitTags(v.Get("interests")), Skills: splitTags(v.Get("skills")),
		Motivation: v.Get("motivation"),
		Location:   &membersv1.Location{City: strings.TrimSpace(v.Get("city")), CountryCode: strings.ToUpper(strings.TrimSpace(v.Get("country_code")))},
	}
	paths := []string{"display_name", "locale", "time_zone", "interests", "skills", "motivation", "location"}
	if h := strings.TrimSpace(v.Get("availability_hours_per_month")); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil {
			form.Set("availability_hours_per_month", "must be a whole number of hours")
		}
		p.AvailabilityHoursPerMonth = int32(n)
	}
	paths = append(paths, "availability_hours_per_month")
	return &membersv1.UpdateProfileRequest{Community: community, Id: id, Profile: p, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}
}

var profileAliases = map[string]string{"location.country_code": "country_code", "location.city": "city", "profile.display_name": "display_name"}

func (s *Server) memberUpdate(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	req := profileUpdate(s.opts.Community, id, v, form)
	if !form.Failed() {
		if _, err = s.api.Members.UpdateProfile(r.Context(), connect.NewRequest(req)); err == nil {
			seeOther(w, r, "/members/"+url.PathEscape(id), "profile-saved")
			return
		}
		form.apply(err, profileAliases)
	}
	d, lerr := s.loadMember(r, id)
	if lerr != nil {
		s.apiFailed(w, r, c, lerr)
		return
	}
	d.Form = form
	s.render(w, r, c, http.StatusBadRequest, "member", d.Member.GetDisplayName(), "members", d)
}

func (s *Server) memberRole(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if v.Get("action") == "revoke" {
		_, err = s.api.Members.RevokeRole(r.Context(), connect.NewRequest(&membersv1.RevokeRoleRequest{Community: s.opts.Community, MemberId: id, Role: v.Get("role")}))
	} else {
		_, err = s.api.Members.AssignRole(r.Context(), connect.NewRequest(&membersv1.AssignRoleRequest{Community: s.opts.Community, MemberId: id, Role: v.Get("role"), Tier: strings.TrimSpace(v.Get("tier"))}))
	}
	if err != nil {
		s.memberFormFailed(w, r, c, id, err)
		return
	}
	seeOther(w, r, "/members/"+url.PathEscape(id), "role-changed")
}

func (s *Server) memberFormFailed(w http.ResponseWriter, r *http.Request, c *call, id string, err error) {
	d, lerr := s.loadMember(r, id)
	if lerr != nil {
		s.apiFailed(w, r, c, lerr)
		return
	}
	d.Form = newForm(profileValues(d.Member))
	d.Form.apply(err, nil)
	s.render(w, r, c, http.StatusBadRequest, "member", d.Member.GetDisplayName(), "members", d)
}

func (s *Server) memberConsent(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	_, err = s.api.Members.RecordConsent(r.Context(), connect.NewRequest(&membersv1.RecordConsentRequest{Community: s.opts.Community, MemberId: id,
		Purpose: v.Get("purpose"), Granted: v.Get("granted") == "true", Source: "console-organiser", PolicyVersion: v.Get("policy_version")}))
	if err != nil {
		s.memberFormFailed(w, r, c, id, err)
		return
	}
	seeOther(w, r, "/members/"+url.PathEscape(id), "consent-recorded")
}

// memberErase erases a member and shows the receipt: what was removed,
// when, and the pseudonymous id that stays.
func (s *Server) memberErase(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if v.Get("confirm") != "erase" {
		s.memberFormFailed(w, r, c, id, connect.NewError(connect.CodeFailedPrecondition, errors.New("type erase to confirm the erasure")))
		return
	}
	res, err := s.api.Members.EraseMember(r.Context(), connect.NewRequest(&membersv1.EraseMemberRequest{Community: s.opts.Community, MemberId: id}))
	if err != nil {
		s.memberFormFailed(w, r, c, id, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "erased", "Erasure receipt", "members", map[string]any{
		"Member": res.Msg.GetMember(), "At": time.Now().UTC(), "By": c.ss.Subject})
}

// membersExport streams the members (all, a saved segment or the
// builder's filter) as CSV; the members service neutralises every cell.
func (s *Server) membersExport(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	form := newForm(q)
	sf := filterFromQuery(q, form)
	if form.Failed() {
		s.problem(w, r, c, http.StatusBadRequest, "The filter could not be read.")
		return
	}
	req := &membersv1.ExportMembersRequest{Community: s.opts.Community, SegmentId: q.Get("segment")}
	if req.SegmentId == "" && !filterEmpty(sf) {
		req.Filter = sf
	}
	stream, err := s.api.Members.ExportMembers(r.Context(), connect.NewRequest(req))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	defer stream.Close()
	started := false
	for stream.Receive() {
		if !started {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-members-%s.csv"`, s.opts.Community, time.Now().UTC().Format("2006-01-02")))
			started = true
		}
		if _, err := w.Write(stream.Msg().GetChunk()); err != nil {
			return
		}
	}
	if err := stream.Err(); err != nil && !errors.Is(err, io.EOF) {
		if !started {
			s.apiFailed(w, r, c, err)
			return
		}
		s.opts.Logger.WarnContext(r.Context(), "console: export cut short", "error", err)
	}
	if !started {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-members.csv"`, s.opts.Community))
	}
}
