package pages

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	commsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

type myEvent struct {
	Event      *eventsv1.Event
	Occurrence *eventsv1.Occurrence
	RSVP       *eventsv1.RSVP
	// Hosting: the member hosts it, and opens its attendees and check-in.
	Hosting bool
}

type mePage struct {
	Member      *membersv1.Member
	Consents    *membersv1.GetConsentsResponse
	Preferences *commsv1.Preferences
	Events      []myEvent
	Feed        *eventsv1.GetFeedTokenResponse
	Form        *Form
	Purposes    []string
}

// myEventsShown bounds the events on a member's page.
const myEventsShown = 20

func (s *Server) loadMe(ctx context.Context, c *call, form *Form) (mePage, error) {
	id := c.ss.MemberID
	d := mePage{Form: form, Purposes: consentPurposes}
	res, err := s.api.Members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: s.opts.Community, Id: id}))
	if err != nil {
		return d, err
	}
	d.Member = res.Msg.GetMember()
	if d.Form == nil {
		d.Form = newForm(profileValues(d.Member))
	}
	var parts errgroup.Group
	parts.Go(func() error {
		if cr, err := s.api.Members.GetConsents(ctx, connect.NewRequest(&membersv1.GetConsentsRequest{Community: s.opts.Community, MemberId: id})); err == nil {
			d.Consents = cr.Msg
		}
		return nil
	})
	parts.Go(func() error {
		if pr, err := s.api.Announcements.GetPreferences(ctx, connect.NewRequest(&commsv1.GetPreferencesRequest{Community: s.opts.Community, MemberId: id})); err == nil {
			d.Preferences = pr.Msg.GetPreferences()
		}
		return nil
	})
	parts.Go(func() error {
		if fr, err := s.api.Calendar.GetFeedToken(ctx, connect.NewRequest(&eventsv1.GetFeedTokenRequest{Community: s.opts.Community, MemberId: id})); err == nil {
			d.Feed = fr.Msg
			if d.Feed.GetUrl() == "" && s.opts.EventsPublicURL != "" {
				d.Feed.Url = strings.TrimSuffix(s.opts.EventsPublicURL, "/") + d.Feed.GetPath()
			}
		}
		return nil
	})
	now := time.Now()
	if er, err := s.api.Events.ListEvents(ctx, connect.NewRequest(&eventsv1.ListEventsRequest{Community: s.opts.Community,
		From: timestamppb.New(now), To: timestamppb.New(now.AddDate(0, 0, 90)), PageSize: myEventsShown})); err == nil {
		for _, e := range er.Msg.GetEvents() {
			if len(e.GetOccurrences()) == 0 || e.GetStatus() != eventsv1.EventStatus_EVENT_STATUS_PUBLISHED {
				continue
			}
			d.Events = append(d.Events, myEvent{Event: e, Occurrence: e.GetOccurrences()[0], Hosting: slices.Contains(e.GetSpec().GetHostIds(), id)})
		}
		// The member's answers, in one call, matched to the events shown.
		if rr, err := s.api.Attendance.ListMemberRSVPs(ctx, connect.NewRequest(&eventsv1.ListMemberRSVPsRequest{Community: s.opts.Community,
			MemberId: id, FromTime: timestamppb.New(now), PageSize: 500})); err == nil {
			byOccurrence := map[string]*eventsv1.RSVP{}
			for _, r := range rr.Msg.GetRsvps() {
				byOccurrence[r.GetOccurrenceId()] = r
			}
			for i := range d.Events {
				d.Events[i].RSVP = byOccurrence[d.Events[i].Occurrence.GetId()]
			}
		}
	}
	_ = parts.Wait()
	return d, nil
}

// me is a member's own page: profile, preferences, consents, events with
// their check-in codes, the calendar feed, their data and erasure.
func (s *Server) me(w http.ResponseWriter, r *http.Request, c *call) {
	if c.ss.MemberID == "" {
		s.problem(w, r, c, http.StatusNotFound, "Your account is not a member record of the community (an organiser's API identity, for example).")
		return
	}
	d, err := s.loadMe(r.Context(), c, nil)
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "me", "My membership", "me", d)
}

func (s *Server) meFailed(w http.ResponseWriter, r *http.Request, c *call, form *Form) {
	d, err := s.loadMe(r.Context(), c, form)
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusBadRequest, "me", "My membership", "me", d)
}

func (s *Server) meProfile(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	req := profileUpdate(s.opts.Community, c.ss.MemberID, v, form)
	if !form.Failed() {
		if _, err = s.api.Members.UpdateProfile(r.Context(), connect.NewRequest(req)); err == nil {
			seeOther(w, r, "/me", "profile-saved")
			return
		}
		form.apply(err, profileAliases)
	}
	s.meFailed(w, r, c, form)
}

// mePreferences is the preferences page the communications guide
// promises: announcements and digest, each a consent of its own.
func (s *Server) mePreferences(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	_, err = s.api.Announcements.SetPreferences(r.Context(), connect.NewRequest(&commsv1.SetPreferencesRequest{Community: s.opts.Community,
		MemberId: c.ss.MemberID, Preferences: &commsv1.Preferences{Announcements: v.Get("announcements") == "on", Digest: v.Get("digest") == "on"}}))
	if err != nil {
		form := newForm(nil)
		form.apply(err, nil)
		s.meFailed(w, r, c, form)
		return
	}
	seeOther(w, r, "/me", "preferences-saved")
}

func (s *Server) meConsent(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	_, err = s.api.Members.RecordConsent(r.Context(), connect.NewRequest(&membersv1.RecordConsentRequest{Community: s.opts.Community,
		MemberId: c.ss.MemberID, Purpose: v.Get("purpose"), Granted: v.Get("granted") == "true", Source: "console-self-service", PolicyVersion: v.Get("policy_version")}))
	if err != nil {
		form := newForm(nil)
		form.apply(err, nil)
		s.meFailed(w, r, c, form)
		return
	}
	seeOther(w, r, "/me", "consent-recorded")
}

// meRSVP answers going or not going for one occurrence, or cancels.
func (s *Server) meRSVP(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	ctx := r.Context()
	switch v.Get("answer") {
	case "cancel":
		_, err = s.api.Attendance.CancelRSVP(ctx, connect.NewRequest(&eventsv1.CancelRSVPRequest{Community: s.opts.Community,
			EventId: v.Get("event"), OccurrenceId: v.Get("occurrence"), MemberId: c.ss.MemberID}))
	case "accept":
		_, err = s.api.Attendance.AcceptSeatOffer(ctx, connect.NewRequest(&eventsv1.AcceptSeatOfferRequest{Community: s.opts.Community,
			OccurrenceId: v.Get("occurrence"), MemberId: c.ss.MemberID}))
	default:
		answer := eventsv1.RSVPAnswer_RSVP_ANSWER_GOING
		if v.Get("answer") == "not_going" {
			answer = eventsv1.RSVPAnswer_RSVP_ANSWER_NOT_GOING
		}
		_, err = s.api.Attendance.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{Community: s.opts.Community, EventId: v.Get("event"),
			OccurrenceId: v.Get("occurrence"), MemberId: c.ss.MemberID, Answer: answer}))
	}
	if err != nil {
		form := newForm(nil)
		form.apply(err, nil)
		s.meFailed(w, r, c, form)
		return
	}
	seeOther(w, r, "/me#events", "rsvp-saved")
}

func (s *Server) meRotateFeed(w http.ResponseWriter, r *http.Request, c *call) {
	if _, err := s.api.Calendar.RotateFeedToken(r.Context(), connect.NewRequest(&eventsv1.RotateFeedTokenRequest{Community: s.opts.Community, MemberId: c.ss.MemberID})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/me#calendar", "feed-rotated")
}

// meExport downloads everything the members service holds about the
// signed-in member (GDPR article 15).
func (s *Server) meExport(w http.ResponseWriter, r *http.Request, c *call) {
	res, err := s.api.Members.ExportMemberData(r.Context(), connect.NewRequest(&membersv1.ExportMemberDataRequest{Community: s.opts.Community, MemberId: c.ss.MemberID}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-my-data-%s.json"`, url.PathEscape(s.opts.Community), time.Now().UTC().Format("2006-01-02")))
	_, _ = w.Write(res.Msg.GetJson())
}

// meErase erases the signed-in member (GDPR article 17) and ends their
// session: their member record is gone.
func (s *Server) meErase(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if v.Get("confirm") != "erase" {
		form := newForm(nil)
		form.Set("confirm", "type erase to confirm")
		s.meFailed(w, r, c, form)
		return
	}
	res, err := s.api.Members.EraseMember(r.Context(), connect.NewRequest(&membersv1.EraseMemberRequest{Community: s.opts.Community, MemberId: c.ss.MemberID}))
	if err != nil {
		form := newForm(nil)
		form.apply(err, nil)
		s.meFailed(w, r, c, form)
		return
	}
	if ck, err := r.Cookie(s.sessionCookieName()); err == nil {
		_ = s.store.Delete(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !s.opts.InsecureCookies, SameSite: http.SameSiteLaxMode})
	s.render(w, r, nil, http.StatusOK, "erased", "Your data was erased", "", map[string]any{"Member": res.Msg.GetMember(), "At": time.Now().UTC(), "By": "you"})
}
