package onboarding

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/templates"
	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
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
	// Templates makes sure of the journey's own templates before they are
	// sent; nil sends without asking (the templates exist).
	Templates *templates.Ensurer
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

// SendWelcome sends the welcome e-mail of a journey of a fixed shape,
// once per journey.
func (a *Activities) SendWelcome(ctx context.Context, in MessageInput) error {
	in.Template = TemplateWelcome
	return a.send(ctx, in, "welcome", nil)
}

// SendProfileReminder sends the profile reminder of a first-version
// journey.
func (a *Activities) SendProfileReminder(ctx context.Context, in MessageInput) error {
	in.Template = TemplateProfileReminder
	return a.send(ctx, in, "profile-reminder", nil)
}

// kindTemplates are the templates of the messages journeys of the fixed
// shape send (MessageInput.Kind).
func kindTemplates() map[string]string {
	return map[string]string{
		MessageWelcome:         TemplateWelcome,
		MessageProfileReminder: TemplateProfileReminder,
		MessageAttendanceNudge: TemplateAttendanceNudge,
	}
}

// SendJourneyMessage sends the message in.Kind of a journey of the fixed
// shape, once per in.Key.
func (a *Activities) SendJourneyMessage(ctx context.Context, in MessageInput) error {
	tpl, ok := kindTemplates()[in.Kind]
	if !ok {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown message kind %q", in.Kind), ErrTypeInvalidRequest, nil)
	}
	if in.Key == "" {
		return temporal.NewNonRetryableApplicationError("a journey message needs a key", ErrTypeInvalidRequest, nil)
	}
	in.Template = tpl
	return a.send(ctx, in, in.Key, nil)
}

// SendTemplate sends the template in.Template to the member (or, in a
// test run, to in.RecipientID), once per in.Key.
func (a *Activities) SendTemplate(ctx context.Context, in MessageInput) error {
	if in.Template == "" || in.Key == "" {
		return temporal.NewNonRetryableApplicationError("a journey message needs a template and a key", ErrTypeInvalidRequest, nil)
	}
	return a.send(ctx, in, in.Key, nil)
}

// send looks the member up — the journey's member must still be in the
// community — and sends them (or the test run's recipient) the template.
// The idempotency key is the journey and key, so a retried activity sends
// nothing twice.
func (a *Activities) send(ctx context.Context, in MessageInput, key string, vars map[string]string) error {
	member, err := a.member(ctx, in.Community, in.MemberID)
	if err != nil {
		return err
	}
	to, err := a.recipient(ctx, in, member)
	if err != nil {
		return err
	}
	return a.deliver(ctx, in.Community, to, in.WorkflowID+"/"+key, in.Template, vars)
}

// recipient is who a message of the journey goes to: the member, or the
// organiser running a test.
func (a *Activities) recipient(ctx context.Context, in MessageInput, member *membersv1.Member) (*membersv1.Member, error) {
	if in.RecipientID == "" || in.RecipientID == member.GetId() {
		return member, nil
	}
	return a.member(ctx, in.Community, in.RecipientID)
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

// deliver sends one template to a member, making sure first that the
// community has it when it is one of the journey's own.
func (a *Activities) deliver(ctx context.Context, community string, to *membersv1.Member, key, template string, vars map[string]string) error {
	if d, ok := DefaultTemplate(template); ok {
		if err := a.Templates.Ensure(ctx, community, d); err != nil {
			return classify(fmt.Errorf("make sure of template %s: %w", template, err))
		}
	}
	sent, err := a.Communications.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{
		Community:      community,
		IdempotencyKey: key,
		MemberId:       to.GetId(),
		ToEmail:        to.GetEmail(),
		Template:       template,
		Variables:      vars,
	}))
	if info := activity.GetInfo(ctx); activityerr.Settling(err, info.ScheduledTime, time.Now()) {
		return activityerr.WaitFor(fmt.Sprintf("send message %s: the communications service has not seen the member yet", key), err, info.Attempt)
	}
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
