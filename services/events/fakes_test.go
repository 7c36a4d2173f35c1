package events_test

import (
	"context"
	"errors"
	"sync"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// fakeAccess answers VerifyAPIKey as the members service would, for one
// organiser key of demo.
type fakeAccess struct {
	membersv1connect.UnimplementedAccessServiceHandler
	key string
}

func (f fakeAccess) VerifyAPIKey(_ context.Context, req *connect.Request[membersv1.VerifyAPIKeyRequest]) (*connect.Response[membersv1.VerifyAPIKeyResponse], error) {
	if req.Msg.GetKey() != f.key {
		return nil, connect.NewError(connect.CodeNotFound, auth.ErrUnknownKey)
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

// fakeMembers answers GetMember for the members of its directory, as the
// members service does: only within the community asked about.
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
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	return connect.NewResponse(&membersv1.GetMemberResponse{Member: &membersv1.Member{Id: req.Msg.GetId(), Community: req.Msg.GetCommunity(), Status: st}}), nil
}

// fakePartners answers GetPartner for the partners of its directory.
type fakePartners struct {
	partnersv1connect.UnimplementedPartnersServiceHandler
	dir *directory
}

func (f fakePartners) GetPartner(_ context.Context, req *connect.Request[partnersv1.GetPartnerRequest]) (*connect.Response[partnersv1.GetPartnerResponse], error) {
	_, ok, err := f.dir.get(req.Msg.GetCommunity(), req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, nil)
	}
	return connect.NewResponse(&partnersv1.GetPartnerResponse{Partner: &partnersv1.Partner{Id: req.Msg.GetId(), Community: req.Msg.GetCommunity()}}), nil
}
