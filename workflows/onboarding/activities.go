package onboarding

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/temporal"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// Error types that end an activity without retrying.
const (
	ErrTypeMemberNotFound = "MemberNotFound"
	ErrTypeMessageRefused = "MessageRefused"
	ErrTypeInvalidRequest = "InvalidRequest"
)

// Activities call the services' APIs. They never touch a database, and
// keep personal data out of the workflow history: they take and return ids.
type Activities struct {
	Members        membersv1connect.MembersServiceClient
	Communications communicationsv1connect.CommunicationsServiceClient
}

// SendWelcome sends the welcome e-mail, once per journey.
func (a *Activities) SendWelcome(ctx context.Context, in MessageInput) error {
	return a.send(ctx, in, "welcome", welcomeMessage)
}

// SendProfileReminder sends the complete-your-profile reminder, once per
// journey.
func (a *Activities) SendProfileReminder(ctx context.Context, in MessageInput) error {
	return a.send(ctx, in, "profile-reminder", profileReminderMessage)
}

// send looks the member up and sends them one message. The idempotency key
// is the journey and the step, so a retried activity sends nothing twice.
func (a *Activities) send(ctx context.Context, in MessageInput, step string, compose func(*membersv1.Member) (string, string)) error {
	res, err := a.Members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: in.Community, Id: in.MemberID}))
	if err != nil {
		return classify(fmt.Errorf("look up member: %w", err))
	}
	member := res.Msg.GetMember()
	subject, body := compose(member)
	sent, err := a.Communications.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{
		Community:      in.Community,
		IdempotencyKey: in.WorkflowID + "/" + step,
		MemberId:       member.GetId(),
		ToEmail:        member.GetEmail(),
		Subject:        subject,
		TextBody:       body,
	}))
	if err != nil {
		return classify(fmt.Errorf("send %s message: %w", step, err))
	}
	if sent.Msg.GetMessage().GetStatus() == communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED {
		return temporal.NewNonRetryableApplicationError("the mail server refused the "+step+" message", ErrTypeMessageRefused, nil)
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
