package onboarding

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

type fakeMembers struct {
	membersv1connect.MembersServiceClient
	err error
}

func (f *fakeMembers) GetMember(_ context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
	if f.err != nil {
		return nil, f.err
	}
	return connect.NewResponse(&membersv1.GetMemberResponse{Member: &membersv1.Member{
		Id: req.Msg.GetId(), Community: req.Msg.GetCommunity(), Email: "ada@example.org", DisplayName: "Ada",
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

func runActivity(t *testing.T, a *Activities, fn any) error {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(fn, MessageInput{Community: "demo", MemberID: "m1", WorkflowID: WorkflowID("demo", "m1")})
	return err
}

func TestSendWelcomeAddressesTheMemberOncePerJourney(t *testing.T) {
	comms := &fakeComms{}
	a := &Activities{Members: &fakeMembers{}, Communications: comms}
	if err := runActivity(t, a, a.SendWelcome); err != nil {
		t.Fatal(err)
	}
	if len(comms.sent) != 1 {
		t.Fatalf("messages = %d, want 1", len(comms.sent))
	}
	got := comms.sent[0]
	if got.GetIdempotencyKey() != "onboarding/demo/m1/welcome" || got.GetToEmail() != "ada@example.org" || got.GetMemberId() != "m1" ||
		!strings.Contains(got.GetSubject(), "Ada") || !strings.Contains(got.GetTextBody(), "welcome to the demo community") {
		t.Errorf("sent %v", got)
	}
	if err := runActivity(t, a, a.SendProfileReminder); err != nil {
		t.Fatal(err)
	}
	if key := comms.sent[1].GetIdempotencyKey(); key != "onboarding/demo/m1/profile-reminder" {
		t.Errorf("reminder key = %q", key)
	}
}

func TestActivityErrorsSayWhetherToRetry(t *testing.T) {
	tests := []struct {
		name      string
		members   *fakeMembers
		comms     *fakeComms
		wantType  string // empty: retryable
		retryable bool
	}{
		{"member gone", &fakeMembers{err: connect.NewError(connect.CodeNotFound, errors.New("member not found"))}, &fakeComms{}, ErrTypeMemberNotFound, false},
		{"mail refused", &fakeMembers{}, &fakeComms{status: communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED}, ErrTypeMessageRefused, false},
		{"mail server down", &fakeMembers{}, &fakeComms{err: connect.NewError(connect.CodeUnavailable, errors.New("retry"))}, "", true},
		{"members service down", &fakeMembers{err: connect.NewError(connect.CodeUnavailable, errors.New("dial"))}, &fakeComms{}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Activities{Members: tt.members, Communications: tt.comms}
			err := runActivity(t, a, a.SendWelcome)
			if err == nil {
				t.Fatal("activity succeeded")
			}
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) {
				t.Fatalf("error %v is not an application error", err)
			}
			if appErr.NonRetryable() == tt.retryable {
				t.Errorf("NonRetryable = %v, want %v (%v)", appErr.NonRetryable(), !tt.retryable, err)
			}
			if tt.wantType != "" && appErr.Type() != tt.wantType {
				t.Errorf("type = %q, want %q", appErr.Type(), tt.wantType)
			}
		})
	}
}
