package erasure

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// Activities ask each service to forget a member. Every call is
// idempotent: a retry after a lost answer erases nothing twice and is
// confirmed again. Each service audits the erasure in its own audit log,
// in the transaction that performs it.
type Activities struct {
	Communications communicationsv1connect.CommunicationsServiceClient
	Events         eventsv1connect.AttendanceServiceClient
	Partners       partnersv1connect.ContributionsServiceClient
}

// ForgetInCommunications removes the member from the recipients
// projection and blanks their messages in the delivery log.
func (a *Activities) ForgetInCommunications(ctx context.Context, in ForgetInput) (StoreReceipt, error) {
	res, err := a.Communications.ForgetMember(ctx, connect.NewRequest(&communicationsv1.ForgetMemberRequest{Community: in.Community, MemberId: in.MemberID}))
	if err != nil {
		return StoreReceipt{}, activityerr.Classify(fmt.Errorf("communications: %w", err))
	}
	removed := int64(0)
	if res.Msg.GetRecipientRemoved() {
		removed = 1
	}
	return confirmed(StoreCommunications, res.Msg.GetForgottenAt(),
		Count{"recipient_removed", removed}, Count{"messages_redacted", int64(res.Msg.GetMessagesRedacted())}), nil
}

// ForgetInEvents withdraws the member's upcoming RSVPs and removes their
// check-in codes, feedback comments, feed token and series RSVPs.
func (a *Activities) ForgetInEvents(ctx context.Context, in ForgetInput) (StoreReceipt, error) {
	res, err := a.Events.ForgetMember(ctx, connect.NewRequest(&eventsv1.ForgetMemberRequest{Community: in.Community, MemberId: in.MemberID}))
	if err != nil {
		return StoreReceipt{}, activityerr.Classify(fmt.Errorf("events: %w", err))
	}
	m := res.Msg
	return confirmed(StoreEvents, m.GetForgottenAt(),
		Count{"rsvps_withdrawn", int64(m.GetRsvpsWithdrawn())}, Count{"check_in_codes_removed", int64(m.GetCheckInCodesRemoved())},
		Count{"feedback_comments_removed", int64(m.GetFeedbackCommentsRemoved())}, Count{"feed_tokens_removed", int64(m.GetFeedTokensRemoved())},
		Count{"series_rsvps_removed", int64(m.GetSeriesRsvpsRemoved())}), nil
}

// ForgetInPartners unlinks the member from contributions they made on a
// partner's behalf.
func (a *Activities) ForgetInPartners(ctx context.Context, in ForgetInput) (StoreReceipt, error) {
	res, err := a.Partners.ForgetMember(ctx, connect.NewRequest(&partnersv1.ForgetMemberRequest{Community: in.Community, MemberId: in.MemberID}))
	if err != nil {
		return StoreReceipt{}, activityerr.Classify(fmt.Errorf("partners: %w", err))
	}
	return confirmed(StorePartners, res.Msg.GetForgottenAt(), Count{"contributions_unlinked", int64(res.Msg.GetContributionsUnlinked())}), nil
}

// confirmed is a store's confirmation, at the time it committed (or now,
// should it not say).
func confirmed(store string, at *timestamppb.Timestamp, counts ...Count) StoreReceipt {
	when := time.Now().UTC()
	if at != nil {
		when = at.AsTime().UTC()
	}
	return StoreReceipt{Store: store, ConfirmedAt: when, Erased: counts}
}
