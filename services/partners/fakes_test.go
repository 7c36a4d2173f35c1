package partners_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// fakeAccess stands in for the members service's AccessService: it knows
// one organiser key of demo.
type fakeAccess struct {
	membersv1connect.UnimplementedAccessServiceHandler
	key string
}

func (f fakeAccess) VerifyAPIKey(_ context.Context, req *connect.Request[membersv1.VerifyAPIKeyRequest]) (*connect.Response[membersv1.VerifyAPIKeyResponse], error) {
	if req.Msg.GetKey() != f.key {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("unknown key"))
	}
	return connect.NewResponse(&membersv1.VerifyAPIKeyResponse{KeyId: "key-1", Community: "demo", Roles: []string{"organiser"}}), nil
}

// directory is what a fake owning service knows: the ids of each
// community's records, with a status.
type directory struct {
	mu  sync.Mutex
	ids map[string]map[string]membersv1.MemberStatus
	// down makes the owner fail every look-up.
	down bool
}

func newDirectory() *directory {
	return &directory{ids: map[string]map[string]membersv1.MemberStatus{}}
}

// add records ids in community, with status.
func (d *directory) add(community string, status membersv1.MemberStatus, ids ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ids[community] == nil {
		d.ids[community] = map[string]membersv1.MemberStatus{}
	}
	for _, id := range ids {
		d.ids[community][id] = status
	}
}

// setDown makes the owner fail (or answer again).
func (d *directory) setDown(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
}

// get answers as the owner does: scoped to the community asked about.
func (d *directory) get(community, id string) (membersv1.MemberStatus, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return 0, false, connect.NewError(connect.CodeInternal, errors.New("internal error: database at 10.0.0.7 refused"))
	}
	st, ok := d.ids[community][id]
	return st, ok, nil
}

// fakeMembers answers GetMember for the members of its directory.
type fakeMembers struct {
	membersv1connect.UnimplementedMembersServiceHandler
	dir *directory
}

func (f fakeMembers) GetMember(_ context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
	st, ok, err := f.dir.get(req.Msg.GetCommunity(), req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("member not found"))
	}
	return connect.NewResponse(&membersv1.GetMemberResponse{Member: &membersv1.Member{Id: req.Msg.GetId(), Community: req.Msg.GetCommunity(), Status: st}}), nil
}

// fakeEvents answers GetEvent for the events of its directory.
type fakeEvents struct {
	eventsv1connect.UnimplementedEventsServiceHandler
	dir *directory
}

func (f fakeEvents) GetEvent(_ context.Context, req *connect.Request[eventsv1.GetEventRequest]) (*connect.Response[eventsv1.GetEventResponse], error) {
	_, ok, err := f.dir.get(req.Msg.GetCommunity(), req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("event not found"))
	}
	return connect.NewResponse(&eventsv1.GetEventResponse{Event: &eventsv1.Event{Id: req.Msg.GetId(), Community: req.Msg.GetCommunity()}}), nil
}

// neighbours serves the fake members and events services the partners
// service asks; demo has the members and the event the tests name.
func (s *service) neighbours(t *testing.T) {
	t.Helper()
	key, err := auth.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	s.apiKey, s.members, s.events = key.Plain, newDirectory(), newDirectory()
	active := membersv1.MemberStatus_MEMBER_STATUS_ACTIVE
	s.members.add("demo", active, "organiser-1", "member-7", "m-1")
	s.events.add("demo", active, "event-3")
	mux := http.NewServeMux()
	mux.Handle(membersv1connect.NewAccessServiceHandler(fakeAccess{key: key.Plain}))
	mux.Handle(membersv1connect.NewMembersServiceHandler(fakeMembers{dir: s.members}))
	mux.Handle(eventsv1connect.NewEventsServiceHandler(fakeEvents{dir: s.events}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.membersURL, s.eventsURL = srv.URL, srv.URL
}
