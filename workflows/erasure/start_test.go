package erasure

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

func erasedEvent(t *testing.T, m *membersv1.MemberErased) kafka.Event {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Event{ID: "ev-1", Type: memberevents.TypeMemberErased, ContentType: kafka.ContentTypeProtobuf, Data: data}
}

func TestHandleStartsOneErasurePerMember(t *testing.T) {
	c := &mocks.Client{}
	options := mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		return o.ID == "erasure/demo/m1" && o.TaskQueue == TaskQueue && o.WorkflowExecutionErrorWhenAlreadyStarted &&
			o.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
	})
	input := mock.MatchedBy(func(in Input) bool {
		return in.Community == "demo" && in.MemberID == "m1" && in.ErasedAt.Equal(erasedAt) &&
			slices.Equal(in.CancelWorkflowIDs, []string{onboarding.WorkflowID("demo", "m1"), ambassador.WorkflowID("demo", "m1")})
	})
	c.On("ExecuteWorkflow", mock.Anything, options, WorkflowName, input).Return(&mocks.WorkflowRun{}, nil).Once()
	c.On("ExecuteWorkflow", mock.Anything, options, WorkflowName, input).
		Return(nil, serviceerror.NewWorkflowExecutionAlreadyStarted("running", "", "")).Once()
	e := erasedEvent(t, &membersv1.MemberErased{MemberId: "m1", Community: "demo", ErasedAt: timestamppb.New(erasedAt)})
	for i, want := range []bool{true, false} {
		started, err := Handle(context.Background(), c, "demo", e)
		if err != nil || started != want {
			t.Errorf("Handle #%d = %v, %v; want %v", i+1, started, err, want)
		}
	}
	c.AssertExpectations(t)
}

func TestHandleSkipsOtherEventsAndDeadLettersGarbage(t *testing.T) {
	c := &mocks.Client{}
	if ok, err := Handle(context.Background(), c, "demo", kafka.Event{Type: memberevents.TypeMemberJoined}); ok || err != nil {
		t.Errorf("MemberJoined = %v, %v; want skipped", ok, err)
	}
	for name, e := range map[string]kafka.Event{
		"undecodable":       {ID: "x", Type: memberevents.TypeMemberErased, ContentType: kafka.ContentTypeProtobuf, Data: []byte{0xff}},
		"no member id":      erasedEvent(t, &membersv1.MemberErased{Community: "demo", ErasedAt: timestamppb.New(time.Now())}),
		"json":              {ID: "y", Type: memberevents.TypeMemberErased, ContentType: "application/json", Data: []byte("{}")},
		"another community": erasedEvent(t, &membersv1.MemberErased{MemberId: "m1", Community: "elsewhere", ErasedAt: timestamppb.New(time.Now())}),
	} {
		_, err := Handle(context.Background(), c, "demo", e)
		var permanent *kafka.PermanentError
		if !errors.As(err, &permanent) {
			t.Errorf("%s: %v, want a permanent failure", name, err)
		}
	}
	c.AssertNotCalled(t, "ExecuteWorkflow")
}

func TestMemberWorkflowIDsNameTheOnboardingJourney(t *testing.T) {
	if ids := MemberWorkflowIDs("demo", "m1"); len(ids) == 0 || ids[0] != onboarding.WorkflowID("demo", "m1") {
		t.Errorf("ids = %v", ids)
	}
}
