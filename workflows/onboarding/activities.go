package onboarding

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// Error types that end an activity without retrying.
const (
	ErrTypeMemberNotFound    = "MemberNotFound"
	ErrTypeMessageRefused    = "MessageRefused"
	ErrTypeInvalidRequest    = "InvalidRequest"
	ErrTypeInvalidDefinition = "InvalidDefinition"
)

// ActivityOnboarded is the activity a completed journey records.
const ActivityOnboarded = "onboarded"

// Activities call the services' APIs. They never touch a database, and
// keep personal data out of the workflow history: they take and return ids.
type Activities struct {
	Members        membersv1connect.MembersServiceClient
	Engagement     membersv1connect.EngagementServiceClient
	Segments       membersv1connect.SegmentsServiceClient
	Communications communicationsv1connect.CommunicationsServiceClient
	Events         eventsv1connect.EventsServiceClient
	// Buddies reserves places with ambassadors; nil assigns no buddies.
	Buddies BuddyBook
}

// BuddyBook keeps which members each ambassador buddies, within the
// ambassador's capacity.
type BuddyBook interface {
	// Reserve gives memberID a place with ambassadorID, and reports
	// whether it did; asking again for the same member answers true.
	Reserve(ctx context.Context, community, ambassadorID, memberID string) (bool, error)
	Release(ctx context.Context, community, ambassadorID, memberID string) error
}

// SendWelcome sends the welcome e-mail, once per journey.
func (a *Activities) SendWelcome(ctx context.Context, in MessageInput) error {
	return a.sendTo(ctx, in, "welcome", func(m *membersv1.Member) (string, string) { return welcomeMessage(m) })
}

// SendProfileReminder sends the profile reminder of a first-version
// journey.
func (a *Activities) SendProfileReminder(ctx context.Context, in MessageInput) error {
	return a.sendTo(ctx, in, "profile-reminder", func(m *membersv1.Member) (string, string) { return profileReminderMessage(m) })
}

// SendJourneyMessage sends the message in.Kind, once per in.Key.
func (a *Activities) SendJourneyMessage(ctx context.Context, in MessageInput) error {
	var compose func(*membersv1.Member) (string, string)
	switch in.Kind {
	case MessageWelcome:
		compose = welcomeMessage
	case MessageProfileReminder:
		compose = profileReminderMessage
	case MessageAttendanceNudge:
		compose = attendanceNudgeMessage
	default:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown message kind %q", in.Kind), ErrTypeInvalidRequest, nil)
	}
	if in.Key == "" {
		return temporal.NewNonRetryableApplicationError("a journey message needs a key", ErrTypeInvalidRequest, nil)
	}
	return a.sendTo(ctx, in, in.Key, compose)
}

// sendTo looks the member up and sends them one message. The idempotency
// key is the journey and key, so a retried activity sends nothing twice.
func (a *Activities) sendTo(ctx context.Context, in MessageInput, key string, compose func(*membersv1.Member) (string, string)) error {
	member, err := a.member(ctx, in.Community, in.MemberID)
	if err != nil {
		return err
	}
	subject, body := compose(member)
	return a.deliver(ctx, in.Community, member, in.WorkflowID+"/"+key, subject, body)
}

// member looks up a member who is still in the community.
func (a *Activities) member(ctx context.Context, community, id string) (*membersv1.Member, error) {
	res, err := a.Members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: community, Id: id}))
	if err != nil {
		return nil, classify(fmt.Errorf("look up member %s: %w", id, err))
	}
	m := res.Msg.GetMember()
	if s := m.GetStatus(); s == membersv1.MemberStatus_MEMBER_STATUS_LEFT || s == membersv1.MemberStatus_MEMBER_STATUS_ERASED {
		return nil, temporal.NewNonRetryableApplicationError("member "+id+" is no longer in the community", ErrTypeMemberNotFound, nil)
	}
	return m, nil
}

// deliver sends one e-mail to a member.
func (a *Activities) deliver(ctx context.Context, community string, to *membersv1.Member, key, subject, body string) error {
	sent, err := a.Communications.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{
		Community:      community,
		IdempotencyKey: key,
		MemberId:       to.GetId(),
		ToEmail:        to.GetEmail(),
		Subject:        subject,
		TextBody:       body,
	}))
	if err != nil {
		return classify(fmt.Errorf("send message %s: %w", key, err))
	}
	if sent.Msg.GetMessage().GetStatus() == communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED {
		return temporal.NewNonRetryableApplicationError("the mail server refused message "+key, ErrTypeMessageRefused, nil)
	}
	return nil
}

// RecordOnboarded records the onboarded activity; the members service
// publishes MemberOnboarded with it. The journey is the source event, so
// it counts once.
func (a *Activities) RecordOnboarded(ctx context.Context, in OnboardedInput) error {
	_, err := a.Engagement.RecordActivity(ctx, connect.NewRequest(&membersv1.RecordActivityRequest{
		Community: in.Community, MemberId: in.MemberID, Type: ActivityOnboarded,
		OccurredAt: timestamppb.New(in.At), SourceEventId: in.WorkflowID + "/onboarded",
	}))
	if err != nil {
		return classify(fmt.Errorf("record onboarded activity: %w", err))
	}
	return nil
}

// classify marks errors that retrying cannot fix as non-retryable.
func classify(err error) error {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return err
	}
	switch cerr.Code() {
	case connect.CodeNotFound:
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeMemberNotFound, err)
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodePermissionDenied, connect.CodeUnauthenticated:
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidRequest, err)
	}
	return err
}
