package ambassador

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// fakeMembers knows every id as an active member, except those in gone.
type fakeMembers struct {
	membersv1connect.MembersServiceClient
	mu       sync.Mutex
	gone     map[string]bool
	roles    []string // assigned tiers, "-" for a revocation
	notHeld  bool
	statuses map[string]membersv1.MemberStatus
	ambassy  bool // the member holds the ambassador role already
}

func (f *fakeMembers) GetMember(_ context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
	id := req.Msg.GetId()
	if f.gone[id] {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("member not found"))
	}
	status := membersv1.MemberStatus_MEMBER_STATUS_ACTIVE
	if s, ok := f.statuses[id]; ok {
		status = s
	}
	m := &membersv1.Member{Id: id, Community: req.Msg.GetCommunity(), DisplayName: "Name of " + id, Email: id + "@example.org", Status: status}
	if f.ambassy {
		m.Roles = []*membersv1.RoleAssignment{{Role: "ambassador", Tier: "bronze"}}
	}
	return connect.NewResponse(&membersv1.GetMemberResponse{Member: m}), nil
}

func (f *fakeMembers) AssignRole(_ context.Context, req *connect.Request[membersv1.AssignRoleRequest]) (*connect.Response[membersv1.AssignRoleResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roles = append(f.roles, req.Msg.GetRole()+":"+req.Msg.GetTier())
	return connect.NewResponse(&membersv1.AssignRoleResponse{}), nil
}

func (f *fakeMembers) RevokeRole(_ context.Context, req *connect.Request[membersv1.RevokeRoleRequest]) (*connect.Response[membersv1.RevokeRoleResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notHeld {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("the member does not hold that role"))
	}
	f.roles = append(f.roles, "-"+req.Msg.GetRole())
	return connect.NewResponse(&membersv1.RevokeRoleResponse{}), nil
}

func (f *fakeMembers) assigned() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.roles...)
}

// fakeEngagement reports a level and recent activities, and records the
// activities recorded.
type fakeEngagement struct {
	membersv1connect.EngagementServiceClient
	level  string
	recent []*membersv1.Activity
	// active, when set, reports one activity of each type just now.
	active   []string
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

func (f *fakeEngagement) GetEngagement(context.Context, *connect.Request[membersv1.GetEngagementRequest]) (*connect.Response[membersv1.GetEngagementResponse], error) {
	recent := f.recent
	for _, typ := range f.active {
		recent = append(recent, activityOf(typ, 0))
	}
	return connect.NewResponse(&membersv1.GetEngagementResponse{Level: f.level, Recent: recent}), nil
}

func (f *fakeEngagement) GetCommunitySettings(context.Context, *connect.Request[membersv1.GetCommunitySettingsRequest]) (*connect.Response[membersv1.GetCommunitySettingsResponse], error) {
	return connect.NewResponse(&membersv1.GetCommunitySettingsResponse{Settings: &membersv1.CommunitySettings{Levels: []*membersv1.LevelThreshold{
		{Name: "Observer"}, {Name: "Participant", MinScore: 5}, {Name: "Contributor", MinScore: 20}, {Name: "Core", MinScore: 50},
	}}}), nil
}

func activityOf(typ string, ago time.Duration) *membersv1.Activity {
	return &membersv1.Activity{Type: typ, OccurredAt: timestamppb.New(time.Now().Add(-ago))}
}

type fakeComms struct {
	communicationsv1connect.CommunicationsServiceClient
	mu     sync.Mutex
	sent   []*communicationsv1.SendMessageRequest
	status communicationsv1.MessageStatus
}

func (f *fakeComms) SendMessage(_ context.Context, req *connect.Request[communicationsv1.SendMessageRequest]) (*connect.Response[communicationsv1.SendMessageResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, req.Msg)
	status := f.status
	if status == communicationsv1.MessageStatus_MESSAGE_STATUS_UNSPECIFIED {
		status = communicationsv1.MessageStatus_MESSAGE_STATUS_SENT
	}
	return connect.NewResponse(&communicationsv1.SendMessageResponse{Message: &communicationsv1.Message{Status: status}}), nil
}

func (f *fakeComms) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.sent {
		out = append(out, m.GetIdempotencyKey())
	}
	return out
}

type fakeAnnouncements struct {
	communicationsv1connect.AnnouncementsServiceClient
	mu   sync.Mutex
	reqs []*communicationsv1.CreateAnnouncementRequest
	err  error
}

func (f *fakeAnnouncements) CreateAnnouncement(_ context.Context, req *connect.Request[communicationsv1.CreateAnnouncementRequest]) (*connect.Response[communicationsv1.CreateAnnouncementResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req.Msg)
	if f.err != nil {
		return nil, f.err
	}
	return connect.NewResponse(&communicationsv1.CreateAnnouncementResponse{}), nil
}

// fakeTemplates holds no template until one is saved; it records what was
// saved.
type fakeTemplates struct {
	communicationsv1connect.TemplatesServiceClient
	mu    sync.Mutex
	saved []string
}

func (f *fakeTemplates) GetTemplate(_ context.Context, req *connect.Request[communicationsv1.GetTemplateRequest]) (*connect.Response[communicationsv1.GetTemplateResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.saved {
		if s == req.Msg.GetName() {
			return connect.NewResponse(&communicationsv1.GetTemplateResponse{Template: &communicationsv1.Template{Name: s}}), nil
		}
	}
	return nil, connect.NewError(connect.CodeNotFound, errors.New("template not found"))
}

func (f *fakeTemplates) SaveTemplate(_ context.Context, req *connect.Request[communicationsv1.SaveTemplateRequest]) (*connect.Response[communicationsv1.SaveTemplateResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = append(f.saved, req.Msg.GetName())
	return connect.NewResponse(&communicationsv1.SaveTemplateResponse{}), nil
}
