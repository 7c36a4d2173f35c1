package onboarding

import (
	"context"
	"errors"
	"sync"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// fakeMembers knows every member id it is asked about, as "Ada", unless
// members says otherwise.
type fakeMembers struct {
	membersv1connect.MembersServiceClient
	err     error
	members map[string]*membersv1.Member
}

func (f *fakeMembers) GetMember(_ context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
	if f.err != nil {
		return nil, f.err
	}
	if m, ok := f.members[req.Msg.GetId()]; ok {
		return connect.NewResponse(&membersv1.GetMemberResponse{Member: m}), nil
	}
	return connect.NewResponse(&membersv1.GetMemberResponse{Member: &membersv1.Member{
		Id: req.Msg.GetId(), Community: req.Msg.GetCommunity(), Email: "ada@example.org", DisplayName: "Ada",
		Status: membersv1.MemberStatus_MEMBER_STATUS_ACTIVE, Interests: []string{"solar"}, EmailVerified: true,
		Profile: &membersv1.Profile{TimeZone: "Europe/Berlin", Location: &membersv1.Location{City: "Berlin", CountryCode: "DE"}},
	}}), nil
}

type fakeComms struct {
	communicationsv1connect.CommunicationsServiceClient
	mu     sync.Mutex
	sent   []*communicationsv1.SendMessageRequest
	status communicationsv1.MessageStatus
	err    error
}

func (f *fakeComms) SendMessage(_ context.Context, req *connect.Request[communicationsv1.SendMessageRequest]) (*connect.Response[communicationsv1.SendMessageResponse], error) {
	f.mu.Lock()
	f.sent = append(f.sent, req.Msg)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	status := f.status
	if status == communicationsv1.MessageStatus_MESSAGE_STATUS_UNSPECIFIED {
		status = communicationsv1.MessageStatus_MESSAGE_STATUS_SENT
	}
	return connect.NewResponse(&communicationsv1.SendMessageResponse{Message: &communicationsv1.Message{Status: status}}), nil
}

func (f *fakeComms) sentSnapshot() []*communicationsv1.SendMessageRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*communicationsv1.SendMessageRequest(nil), f.sent...)
}

func (f *fakeComms) keys() []string {
	var out []string
	for _, m := range f.sentSnapshot() {
		out = append(out, m.GetIdempotencyKey())
	}
	return out
}

type fakeEngagement struct {
	membersv1connect.EngagementServiceClient
	mu       sync.Mutex
	recorded []*membersv1.RecordActivityRequest
	err      error
}

func (f *fakeEngagement) RecordActivity(_ context.Context, req *connect.Request[membersv1.RecordActivityRequest]) (*connect.Response[membersv1.RecordActivityResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.recorded = append(f.recorded, req.Msg)
	return connect.NewResponse(&membersv1.RecordActivityResponse{Recorded: true}), nil
}

// fakeSegments answers each filter with the ambassadors byFilter gives it.
type fakeSegments struct {
	membersv1connect.SegmentsServiceClient
	mu       sync.Mutex
	filters  []*membersv1.SegmentFilter
	byFilter func(*membersv1.SegmentFilter) []string
}

func (f *fakeSegments) ListSegmentMembers(_ context.Context, req *connect.Request[membersv1.ListSegmentMembersRequest]) (*connect.Response[membersv1.ListSegmentMembersResponse], error) {
	f.mu.Lock()
	f.filters = append(f.filters, req.Msg.GetFilter())
	f.mu.Unlock()
	res := &membersv1.ListSegmentMembersResponse{}
	if f.byFilter != nil {
		for _, id := range f.byFilter(req.Msg.GetFilter()) {
			res.Members = append(res.Members, &membersv1.SegmentMember{Id: id})
		}
	}
	return connect.NewResponse(res), nil
}

type fakeEvents struct {
	eventsv1connect.EventsServiceClient
	asked  *eventsv1.SuggestEventsRequest
	events []*eventsv1.Event
	err    error
}

func (f *fakeEvents) SuggestEvents(_ context.Context, req *connect.Request[eventsv1.SuggestEventsRequest]) (*connect.Response[eventsv1.SuggestEventsResponse], error) {
	f.asked = req.Msg
	if f.err != nil {
		return nil, f.err
	}
	res := &eventsv1.SuggestEventsResponse{}
	for _, e := range f.events {
		res.Suggestions = append(res.Suggestions, &eventsv1.Suggestion{Event: e})
	}
	return connect.NewResponse(res), nil
}

// fakeBook gives each ambassador room for capacity members.
type fakeBook struct {
	mu       sync.Mutex
	capacity int
	book     map[string][]string
	released []string
}

func (f *fakeBook) Reserve(_ context.Context, _, ambassadorID, memberID string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.book == nil {
		f.book = map[string][]string{}
	}
	for _, m := range f.book[ambassadorID] {
		if m == memberID {
			return true, nil
		}
	}
	if len(f.book[ambassadorID]) >= f.capacity {
		return false, nil
	}
	f.book[ambassadorID] = append(f.book[ambassadorID], memberID)
	return true, nil
}

func (f *fakeBook) Release(_ context.Context, _, ambassadorID, memberID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, ambassadorID+"/"+memberID)
	return nil
}

// fakeTemplates holds the templates in have; it records what was looked
// up and what was created.
type fakeTemplates struct {
	communicationsv1connect.TemplatesServiceClient
	mu    sync.Mutex
	have  map[string]bool
	asked []string
	saved []string
}

func (f *fakeTemplates) GetTemplate(_ context.Context, req *connect.Request[communicationsv1.GetTemplateRequest]) (*connect.Response[communicationsv1.GetTemplateResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, req.Msg.GetName())
	if !f.have[req.Msg.GetName()] {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("template not found"))
	}
	return connect.NewResponse(&communicationsv1.GetTemplateResponse{Template: &communicationsv1.Template{Name: req.Msg.GetName()}}), nil
}

func (f *fakeTemplates) SaveTemplate(_ context.Context, req *connect.Request[communicationsv1.SaveTemplateRequest]) (*connect.Response[communicationsv1.SaveTemplateResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = append(f.saved, req.Msg.GetName())
	if f.have == nil {
		f.have = map[string]bool{}
	}
	f.have[req.Msg.GetName()] = true
	return connect.NewResponse(&communicationsv1.SaveTemplateResponse{}), nil
}
