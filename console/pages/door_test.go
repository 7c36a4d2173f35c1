package pages

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
)

// fakeEvents holds two events: "hosted", which the rig's member me-1
// hosts, and "other", hosted by someone else. It counts the door's calls
// (attendee lists and check-ins) it was asked for.
type fakeEvents struct {
	eventsv1connect.UnimplementedEventsServiceHandler
	eventsv1connect.UnimplementedAttendanceServiceHandler
	mu        sync.Mutex
	doorCalls int
}

func (f *fakeEvents) event(id string) *eventsv1.Event {
	hosts := map[string][]string{"hosted": {"someone", "me-1"}, "other": {"someone"}}[id]
	start := time.Now().Add(24 * time.Hour)
	return &eventsv1.Event{Id: id, Community: "demo", Status: eventsv1.EventStatus_EVENT_STATUS_PUBLISHED,
		Spec:        &eventsv1.EventSpec{Title: "Event " + id, HostIds: hosts},
		Occurrences: []*eventsv1.Occurrence{{Id: id + "-o1", EventId: id, StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(time.Hour))}}}
}

func (f *fakeEvents) GetEvent(_ context.Context, req *connect.Request[eventsv1.GetEventRequest]) (*connect.Response[eventsv1.GetEventResponse], error) {
	if id := req.Msg.GetId(); id == "hosted" || id == "other" {
		return connect.NewResponse(&eventsv1.GetEventResponse{Event: f.event(id)}), nil
	}
	return nil, connect.NewError(connect.CodeNotFound, errors.New("event not found"))
}

func (f *fakeEvents) ListEvents(context.Context, *connect.Request[eventsv1.ListEventsRequest]) (*connect.Response[eventsv1.ListEventsResponse], error) {
	return connect.NewResponse(&eventsv1.ListEventsResponse{Events: []*eventsv1.Event{f.event("hosted"), f.event("other")}}), nil
}

func (f *fakeEvents) ListAttendees(context.Context, *connect.Request[eventsv1.ListAttendeesRequest]) (*connect.Response[eventsv1.ListAttendeesResponse], error) {
	f.mu.Lock()
	f.doorCalls++
	f.mu.Unlock()
	return connect.NewResponse(&eventsv1.ListAttendeesResponse{Rsvps: []*eventsv1.RSVP{{MemberId: "m-guest", Status: eventsv1.RSVPStatus_RSVP_STATUS_GOING}}}), nil
}

func (f *fakeEvents) CheckIn(context.Context, *connect.Request[eventsv1.CheckInRequest]) (*connect.Response[eventsv1.CheckInResponse], error) {
	f.mu.Lock()
	f.doorCalls++
	f.mu.Unlock()
	return connect.NewResponse(&eventsv1.CheckInResponse{Rsvp: &eventsv1.RSVP{MemberId: "m-guest", Status: eventsv1.RSVPStatus_RSVP_STATUS_GOING}}), nil
}

func (f *fakeEvents) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.doorCalls
}

// A member who hosts an event opens its attendee list and check-in screen
// and checks people in, from links on their own page, without seeing the
// rest of the console (the event's page, member records); the door of an
// event they do not host stays shut and the events API is not asked. The
// organising team opens every door.
func TestHostsRunTheDoorOfTheirOwnEventsOnly(t *testing.T) {
	events := &fakeEvents{}
	r := newRigWith(t, func(mux *http.ServeMux) {
		mux.Handle(eventsv1connect.NewEventsServiceHandler(events))
		mux.Handle(eventsv1connect.NewAttendanceServiceHandler(events))
	})
	host, hostSession := r.signIn(t, "member")
	checkIn := func(cookie *http.Cookie, csrf, event string) *http.Response {
		res, _ := r.do(t, http.MethodPost, "/events/"+event+"/checkin", cookie,
			url.Values{csrfField: {csrf}, "code": {"ABC123"}, "occurrence": {event + "-o1"}}, nil)
		return res
	}

	t.Run("their own event", func(t *testing.T) {
		res, body := r.do(t, http.MethodGet, "/events/hosted/attendees", host, nil, nil)
		// The guest shows by name (the fake members API names everyone so).
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatalf("attendees: %d", res.StatusCode)
		}
		if strings.Contains(body, `href="/members/`) || strings.Contains(body, `href="/events/hosted"`) {
			t.Error("a host's attendee list links to pages a host cannot open")
		}
		if res, body := r.do(t, http.MethodGet, "/events/hosted/checkin", host, nil, nil); res.StatusCode != http.StatusOK || !strings.Contains(body, `name="code"`) {
			t.Fatalf("check-in screen: %d", res.StatusCode)
		}
		if res := checkIn(host, hostSession.CSRF, "hosted"); res.StatusCode != http.StatusOK {
			t.Fatalf("checking in: %d", res.StatusCode)
		}
		if _, body := r.do(t, http.MethodGet, "/me", host, nil, nil); !strings.Contains(body, `href="/events/hosted/checkin?occurrence=hosted-o1"`) ||
			strings.Contains(body, `href="/events/other/checkin`) {
			t.Error("the host's page must link to the check-in of the event they host, and only that one")
		}
	})

	t.Run("someone else's event", func(t *testing.T) {
		before := events.calls()
		for _, path := range []string{"/events/other/attendees", "/events/other/checkin", "/events/other/attendees?occurrence=other-o1"} {
			if res, _ := r.do(t, http.MethodGet, path, host, nil, nil); res.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", path, res.StatusCode)
			}
		}
		if res := checkIn(host, hostSession.CSRF, "other"); res.StatusCode != http.StatusForbidden {
			t.Errorf("checking in at another's event: %d, want 403", res.StatusCode)
		}
		if n := events.calls() - before; n != 0 {
			t.Errorf("the events API was asked %d times for a door the host does not run", n)
		}
	})

	t.Run("nothing else", func(t *testing.T) {
		for _, path := range []string{"/events", "/events/hosted", "/events/hosted/edit", "/members/m-guest"} {
			if res, _ := r.do(t, http.MethodGet, path, host, nil, nil); res.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", path, res.StatusCode)
			}
		}
	})

	t.Run("the team opens every door", func(t *testing.T) {
		staff, staffSession := r.signIn(t, "staff")
		for _, path := range []string{"/events/other/attendees", "/events/other/checkin"} {
			if res, _ := r.do(t, http.MethodGet, path, staff, nil, nil); res.StatusCode != http.StatusOK {
				t.Errorf("%s: %d, want 200", path, res.StatusCode)
			}
		}
		if res := checkIn(staff, staffSession.CSRF, "other"); res.StatusCode != http.StatusOK {
			t.Errorf("staff checking in: %d", res.StatusCode)
		}
	})
}
