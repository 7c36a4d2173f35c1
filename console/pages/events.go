package pages

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

// The datetime-local format of <input type="datetime-local">.
const localTime = "2006-01-02T15:04"

type eventsPage struct {
	Events []*eventsv1.Event
	From   string
	Pager  pager
}

// eventsList pages through the events with an occurrence from the chosen
// day on (90 days ahead), earliest first.
func (s *Server) eventsList(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	from := time.Now().UTC().Truncate(24 * time.Hour)
	if v := q.Get("from"); v != "" {
		if t, err := time.Parse("2006-01-02", v); err == nil {
			from = t
		}
	}
	res, err := s.api.Events.ListEvents(r.Context(), connect.NewRequest(&eventsv1.ListEventsRequest{Community: s.opts.Community,
		From: timestamppb.New(from), To: timestamppb.New(from.AddDate(0, 0, 90)), PageSize: pageSize, PageToken: q.Get("page")}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	s.render(w, r, c, http.StatusOK, "events", "Events", "events", eventsPage{Events: res.Msg.GetEvents(), From: from.Format("2006-01-02"),
		Pager: pagerFor("/events", q, res.Msg.GetNextPageToken())})
}

type eventForm struct {
	Form        *Form
	Event       *eventsv1.Event
	Occurrence  string
	Action      string
	Kinds       []string
	Visibility  []string
	Frequencies []string
}

func newEventForm(f *Form, action string) eventForm {
	return eventForm{Form: f, Action: action, Kinds: []string{"offline", "online", "hybrid"},
		Visibility: []string{"members", "public"}, Frequencies: []string{"", "DAILY", "WEEKLY", "MONTHLY"}}
}

func (s *Server) eventNew(w http.ResponseWriter, r *http.Request, c *call) {
	start := time.Now().Add(7 * 24 * time.Hour).Truncate(time.Hour)
	v := url.Values{"kind": {"offline"}, "visibility": {"members"}, "time_zone": {"UTC"},
		"start_time": {start.Format(localTime)}, "end_time": {start.Add(2 * time.Hour).Format(localTime)}}
	s.render(w, r, c, http.StatusOK, "eventform", "New event", "events", newEventForm(newForm(v), "/events/new"))
}

// eventSpec reads the event form. Times are wall-clock times in the
// event's time zone.
func eventSpec(v url.Values, f *Form) *eventsv1.EventSpec {
	spec := &eventsv1.EventSpec{
		Title: strings.TrimSpace(v.Get("title")), Description: v.Get("description"),
		OnlineUrl: strings.TrimSpace(v.Get("online_url")), TimeZone: strings.TrimSpace(v.Get("time_zone")),
		Tags: splitTags(strings.ToLower(v.Get("tags"))), PartnerId: strings.TrimSpace(v.Get("partner_id")),
	}
	switch v.Get("kind") {
	case "online":
		spec.Kind = eventsv1.EventKind_EVENT_KIND_ONLINE
	case "offline":
		spec.Kind = eventsv1.EventKind_EVENT_KIND_OFFLINE
	case "hybrid":
		spec.Kind = eventsv1.EventKind_EVENT_KIND_HYBRID
	}
	if spec.Kind != eventsv1.EventKind_EVENT_KIND_ONLINE {
		spec.Venue = &eventsv1.Venue{Name: strings.TrimSpace(v.Get("venue.name")), Street: strings.TrimSpace(v.Get("venue.street")),
			City: strings.TrimSpace(v.Get("venue.city")), PostalCode: strings.TrimSpace(v.Get("venue.postal_code")),
			CountryCode: strings.ToUpper(strings.TrimSpace(v.Get("venue.country_code")))}
	}
	if spec.Kind == eventsv1.EventKind_EVENT_KIND_OFFLINE {
		spec.OnlineUrl = ""
	}
	switch v.Get("visibility") {
	case "public":
		spec.Visibility = eventsv1.Visibility_VISIBILITY_PUBLIC
	default:
		spec.Visibility = eventsv1.Visibility_VISIBILITY_MEMBERS
	}
	loc, err := time.LoadLocation(spec.TimeZone)
	if err != nil || spec.TimeZone == "" {
		f.Set("time_zone", "must be an IANA time zone such as Europe/Berlin")
		loc = time.UTC
	}
	for _, name := range []string{"start_time", "end_time"} {
		t, err := time.ParseInLocation(localTime, v.Get(name), loc)
		if err != nil {
			f.Set(name, "must be a date and time")
			continue
		}
		if name == "start_time" {
			spec.StartTime = timestamppb.New(t)
		} else {
			spec.EndTime = timestamppb.New(t)
		}
	}
	if cap := strings.TrimSpace(v.Get("capacity")); cap != "" {
		n, err := strconv.Atoi(cap)
		if err != nil {
			f.Set("capacity", "must be a whole number (0 means unlimited)")
		}
		spec.Capacity = int32(n)
	}
	rrule := strings.TrimSpace(v.Get("recurrence.rrule"))
	if rrule == "" && v.Get("repeat") != "" {
		count := strings.TrimSpace(v.Get("repeat_count"))
		if _, err := strconv.Atoi(count); err != nil {
			f.Set("repeat_count", "say how many times the event takes place")
		}
		rrule = "FREQ=" + v.Get("repeat") + ";COUNT=" + count
	}
	if rrule != "" {
		spec.Recurrence = &eventsv1.Recurrence{Rrule: rrule}
	}
	return spec
}

var eventAliases = map[string]string{"recurrence": "recurrence.rrule", "venue": "venue.street"}

func (s *Server) eventCreate(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	spec := eventSpec(v, form)
	if !form.Failed() {
		res, err := s.api.Events.CreateEvent(r.Context(), connect.NewRequest(&eventsv1.CreateEventRequest{Community: s.opts.Community, Event: spec}))
		if err == nil {
			seeOther(w, r, "/events/"+url.PathEscape(res.Msg.GetEvent().GetId()), "event-created")
			return
		}
		form.apply(err, eventAliases)
	}
	s.render(w, r, c, http.StatusBadRequest, "eventform", "New event", "events", newEventForm(form, "/events/new"))
}

type eventDetail struct {
	Event      *eventsv1.Event
	Upcoming   []*eventsv1.Occurrence
	Feedback   *eventsv1.FeedbackSummary
	PublicFeed string
	More       int
}

// maxOccurrencesShown keeps a long series' page short.
const maxOccurrencesShown = 20

func (s *Server) eventDetail(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	res, err := s.api.Events.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: s.opts.Community, Id: r.PathValue("id")}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	e := res.Msg.GetEvent()
	d := eventDetail{Event: e}
	now := time.Now()
	for _, o := range e.GetOccurrences() {
		if o.GetEndTime().AsTime().After(now.Add(-7 * 24 * time.Hour)) {
			if len(d.Upcoming) < maxOccurrencesShown {
				d.Upcoming = append(d.Upcoming, o)
			} else {
				d.More++
			}
		}
	}
	if fr, err := s.api.Attendance.GetFeedbackSummary(ctx, connect.NewRequest(&eventsv1.GetFeedbackSummaryRequest{Community: s.opts.Community, EventId: e.GetId()})); err == nil {
		d.Feedback = fr.Msg.GetSummary()
	}
	if s.opts.EventsPublicURL != "" && e.GetSpec().GetVisibility() == eventsv1.Visibility_VISIBILITY_PUBLIC {
		d.PublicFeed = strings.TrimSuffix(s.opts.EventsPublicURL, "/") + "/calendar/" + url.PathEscape(s.opts.Community) + "/events/" + url.PathEscape(e.GetId()) + ".ics"
	}
	s.render(w, r, c, http.StatusOK, "event", e.GetSpec().GetTitle(), "events", d)
}

// eventValues fills the edit form from an event (times in its zone).
func eventValues(e *eventsv1.Event) url.Values {
	sp := e.GetSpec()
	loc, err := time.LoadLocation(sp.GetTimeZone())
	if err != nil {
		loc = time.UTC
	}
	v := url.Values{}
	v.Set("title", sp.GetTitle())
	v.Set("description", sp.GetDescription())
	v.Set("kind", strings.ToLower(strings.TrimPrefix(sp.GetKind().String(), "EVENT_KIND_")))
	v.Set("venue.name", sp.GetVenue().GetName())
	v.Set("venue.street", sp.GetVenue().GetStreet())
	v.Set("venue.city", sp.GetVenue().GetCity())
	v.Set("venue.postal_code", sp.GetVenue().GetPostalCode())
	v.Set("venue.country_code", sp.GetVenue().GetCountryCode())
	v.Set("online_url", sp.GetOnlineUrl())
	v.Set("time_zone", sp.GetTimeZone())
	v.Set("start_time", sp.GetStartTime().AsTime().In(loc).Format(localTime))
	v.Set("end_time", sp.GetEndTime().AsTime().In(loc).Format(localTime))
	v.Set("capacity", strconv.Itoa(int(sp.GetCapacity())))
	v.Set("tags", strings.Join(sp.GetTags(), ", "))
	v.Set("visibility", strings.ToLower(strings.TrimPrefix(sp.GetVisibility().String(), "VISIBILITY_")))
	v.Set("recurrence.rrule", sp.GetRecurrence().GetRrule())
	v.Set("partner_id", sp.GetPartnerId())
	return v
}

func (s *Server) eventEdit(w http.ResponseWriter, r *http.Request, c *call) {
	res, err := s.api.Events.GetEvent(r.Context(), connect.NewRequest(&eventsv1.GetEventRequest{Community: s.opts.Community, Id: r.PathValue("id")}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	e := res.Msg.GetEvent()
	v := eventValues(e)
	occ := r.URL.Query().Get("occurrence")
	if occ != "" {
		v.Set("scope", "occurrence")
		for _, o := range e.GetOccurrences() {
			if o.GetId() == occ {
				loc, err := time.LoadLocation(e.GetSpec().GetTimeZone())
				if err != nil {
					loc = time.UTC
				}
				v.Set("start_time", o.GetStartTime().AsTime().In(loc).Format(localTime))
				v.Set("end_time", o.GetEndTime().AsTime().In(loc).Format(localTime))
			}
		}
	}
	ef := newEventForm(newForm(v), "/events/"+e.GetId()+"/edit")
	ef.Event, ef.Occurrence = e, occ
	s.render(w, r, c, http.StatusOK, "eventform", "Edit "+e.GetSpec().GetTitle(), "events", ef)
}

// eventUpdate changes the whole event, one occurrence, or one occurrence
// and the following ones.
func (s *Server) eventUpdate(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := newForm(v)
	spec := eventSpec(v, form)
	req := &eventsv1.UpdateEventRequest{Community: s.opts.Community, Id: id, Event: spec, OccurrenceId: v.Get("occurrence")}
	paths := []string{"title", "description", "kind", "venue", "online_url", "start_time", "end_time", "time_zone", "capacity", "tags", "visibility", "partner_id", "recurrence"}
	switch v.Get("scope") {
	case "occurrence":
		req.Scope = eventsv1.UpdateScope_UPDATE_SCOPE_OCCURRENCE
		paths = []string{"title", "description", "venue", "online_url", "start_time", "end_time", "capacity"}
	case "following":
		req.Scope = eventsv1.UpdateScope_UPDATE_SCOPE_THIS_AND_FOLLOWING
	default:
		req.Scope = eventsv1.UpdateScope_UPDATE_SCOPE_EVENT
		req.OccurrenceId = ""
	}
	if spec.GetKind() == eventsv1.EventKind_EVENT_KIND_ONLINE && req.Scope == eventsv1.UpdateScope_UPDATE_SCOPE_OCCURRENCE {
		paths = []string{"title", "description", "online_url", "start_time", "end_time", "capacity"}
	}
	req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
	if !form.Failed() {
		res, err := s.api.Events.UpdateEvent(r.Context(), connect.NewRequest(req))
		if err == nil {
			target := id
			if ne := res.Msg.GetNewEvent(); ne != nil {
				target = ne.GetId()
			}
			seeOther(w, r, "/events/"+url.PathEscape(target), "event-saved")
			return
		}
		form.apply(err, eventAliases)
	}
	ef := newEventForm(form, "/events/"+id+"/edit")
	ef.Occurrence = v.Get("occurrence")
	if res, err := s.api.Events.GetEvent(r.Context(), connect.NewRequest(&eventsv1.GetEventRequest{Community: s.opts.Community, Id: id})); err == nil {
		ef.Event = res.Msg.GetEvent()
	}
	s.render(w, r, c, http.StatusBadRequest, "eventform", "Edit event", "events", ef)
}

func (s *Server) eventPublish(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	if _, err := s.api.Events.PublishEvent(r.Context(), connect.NewRequest(&eventsv1.PublishEventRequest{Community: s.opts.Community, Id: id})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/events/"+url.PathEscape(id), "event-published")
}

func (s *Server) eventCancel(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if _, err := s.api.Events.CancelEvent(r.Context(), connect.NewRequest(&eventsv1.CancelEventRequest{Community: s.opts.Community, Id: id,
		OccurrenceId: v.Get("occurrence"), Reason: v.Get("reason")})); err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	seeOther(w, r, "/events/"+url.PathEscape(id), "event-cancelled")
}

// runsDoor reports whether the person may open an event's attendee list
// and check-in screen: the organising team (and platform admins) for every
// event, a member for the events they host and no other. The events API
// decides the same for every call it answers.
func runsDoor(c *call, e *eventsv1.Event) bool {
	if allowed(c.ss, team) {
		return true
	}
	return c.ss.MemberID != "" && slices.Contains(e.GetSpec().GetHostIds(), c.ss.MemberID)
}

// notYourDoor answers a person who neither runs events nor hosts this one.
func (s *Server) notYourDoor(w http.ResponseWriter, r *http.Request, c *call) {
	s.problem(w, r, c, http.StatusForbidden, "Only the organising team and the event's hosts open its attendees and check-in.")
}

type attendee struct {
	RSVP *eventsv1.RSVP
	Name string
}

type attendeesPage struct {
	Event      *eventsv1.Event
	Occurrence *eventsv1.Occurrence
	Attendees  []attendee
	Pager      pager
}

// names looks up members' display names, a page's worth at a time, a few
// calls in parallel; an unknown member shows by id.
func (s *Server) names(ctx context.Context, ids []string) map[string]string {
	out := make([]string, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, id := range ids {
		g.Go(func() error {
			res, err := s.api.Members.GetMember(gctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: s.opts.Community, Id: id}))
			if err == nil {
				out[i] = res.Msg.GetMember().GetDisplayName()
			}
			return nil
		})
	}
	_ = g.Wait()
	m := make(map[string]string, len(ids))
	for i, id := range ids {
		m[id] = out[i]
	}
	return m
}

func (s *Server) occurrenceOf(ctx context.Context, eventID, occurrenceID string) (*eventsv1.Event, *eventsv1.Occurrence, error) {
	res, err := s.api.Events.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: s.opts.Community, Id: eventID}))
	if err != nil {
		return nil, nil, err
	}
	e := res.Msg.GetEvent()
	var pick *eventsv1.Occurrence
	now := time.Now()
	for _, o := range e.GetOccurrences() {
		if o.GetId() == occurrenceID {
			return e, o, nil
		}
		// Without a choice: the next one that has not ended.
		if occurrenceID == "" && pick == nil && o.GetEndTime().AsTime().After(now) {
			pick = o
		}
	}
	if occurrenceID != "" {
		return nil, nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("no such occurrence"))
	}
	if pick == nil && len(e.GetOccurrences()) > 0 {
		pick = e.GetOccurrences()[len(e.GetOccurrences())-1]
	}
	return e, pick, nil
}

// eventAttendees lists one occurrence's seats and waitlist, a page at a time.
func (s *Server) eventAttendees(w http.ResponseWriter, r *http.Request, c *call) {
	ctx := r.Context()
	q := r.URL.Query()
	e, o, err := s.occurrenceOf(ctx, r.PathValue("id"), q.Get("occurrence"))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	if !runsDoor(c, e) {
		s.notYourDoor(w, r, c)
		return
	}
	d := attendeesPage{Event: e, Occurrence: o}
	if o != nil {
		res, err := s.api.Attendance.ListAttendees(ctx, connect.NewRequest(&eventsv1.ListAttendeesRequest{Community: s.opts.Community,
			OccurrenceId: o.GetId(), PageSize: pageSize, PageToken: q.Get("page")}))
		if err != nil {
			s.apiFailed(w, r, c, err)
			return
		}
		ids := make([]string, 0, len(res.Msg.GetRsvps()))
		for _, rv := range res.Msg.GetRsvps() {
			ids = append(ids, rv.GetMemberId())
		}
		names := s.names(ctx, ids)
		for _, rv := range res.Msg.GetRsvps() {
			d.Attendees = append(d.Attendees, attendee{RSVP: rv, Name: names[rv.GetMemberId()]})
		}
		d.Pager = pagerFor("/events/"+e.GetId()+"/attendees", q, res.Msg.GetNextPageToken())
	}
	s.render(w, r, c, http.StatusOK, "attendees", "Attendees — "+e.GetSpec().GetTitle(), "events", d)
}

type checkInPage struct {
	EventID    string
	Event      *eventsv1.Event
	Occurrence *eventsv1.Occurrence
	Form       *Form
	Checked    *eventsv1.RSVP
	Name       string
}

// checkInScreen is the door: one big field for the seat's code, usable on
// a phone; each check-in answers in place (htmx) and the field is ready for
// the next person.
func (s *Server) checkInScreen(w http.ResponseWriter, r *http.Request, c *call) {
	e, o, err := s.occurrenceOf(r.Context(), r.PathValue("id"), r.URL.Query().Get("occurrence"))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	if !runsDoor(c, e) {
		s.notYourDoor(w, r, c)
		return
	}
	s.render(w, r, c, http.StatusOK, "checkin", "Check-in — "+e.GetSpec().GetTitle(), "events", checkInPage{EventID: e.GetId(), Event: e, Occurrence: o, Form: newForm(nil)})
}

func (s *Server) checkIn(w http.ResponseWriter, r *http.Request, c *call) {
	v, err := parseForm(r)
	if err != nil {
		s.problem(w, r, c, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := checkInPage{EventID: r.PathValue("id"), Form: newForm(nil)}
	// A host checks people in to their own event only: the event is read
	// first (and the events API checks the seat's event again).
	if !allowed(c.ss, team) {
		e, _, err := s.occurrenceOf(r.Context(), d.EventID, v.Get("occurrence"))
		if err != nil {
			s.apiFailed(w, r, c, err)
			return
		}
		if !runsDoor(c, e) {
			s.notYourDoor(w, r, c)
			return
		}
	}
	if occ := v.Get("occurrence"); occ != "" {
		d.Occurrence = &eventsv1.Occurrence{Id: occ}
	}
	code := strings.ToUpper(strings.TrimSpace(v.Get("code")))
	req := &eventsv1.CheckInRequest{Community: s.opts.Community, Code: code}
	if code == "" && v.Get("member_id") != "" {
		req = &eventsv1.CheckInRequest{Community: s.opts.Community, OccurrenceId: v.Get("occurrence"), MemberId: v.Get("member_id")}
	}
	res, err := s.api.Attendance.CheckIn(r.Context(), connect.NewRequest(req))
	status := http.StatusOK
	if err != nil {
		d.Form.Values.Set("code", code)
		if connect.CodeOf(err) == connect.CodeNotFound {
			err = connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("no seat holds the code %s: check it and try again", code))
		}
		d.Form.apply(err, nil)
		if d.Form.Problem == "" && d.Form.Err("code") == "" && len(d.Form.Fields) > 0 {
			d.Form.Problem = d.Form.Errors[d.Form.Fields[0]]
		}
		status = http.StatusUnprocessableEntity
	} else {
		d.Checked = res.Msg.GetRsvp()
		d.Name = s.names(r.Context(), []string{d.Checked.GetMemberId()})[d.Checked.GetMemberId()]
	}
	if r.Header.Get("HX-Request") != "" {
		// An htmx swap shows the outcome; 200 so htmx swaps errors too.
		s.fragment(w, r, c, "checkin", "checkinform", d)
		return
	}
	e, o, lerr := s.occurrenceOf(r.Context(), d.EventID, v.Get("occurrence"))
	if lerr == nil {
		d.Event, d.Occurrence = e, o
	}
	s.render(w, r, c, status, "checkin", "Check-in", "events", d)
}

// eventICS downloads one event as an iCalendar file.
func (s *Server) eventICS(w http.ResponseWriter, r *http.Request, c *call) {
	res, err := s.api.Calendar.ExportEventICS(r.Context(), connect.NewRequest(&eventsv1.ExportEventICSRequest{Community: s.opts.Community, Id: r.PathValue("id")}))
	if err != nil {
		s.apiFailed(w, r, c, err)
		return
	}
	name := res.Msg.GetFilename()
	if name == "" || strings.ContainsAny(name, "\"\r\n/\\") {
		name = "event.ics"
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	_, _ = w.Write(res.Msg.GetIcs())
}
