package eventlifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	"github.com/kinshiphq/kinship/internal/templates"
	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// Activities call the events and communications services. They never
// touch a database, and keep personal data out of the workflow history:
// they take and return ids and counts. Messages are rendered by the
// communications service from its templates and its copy of each
// member's address, so no address passes through here either.
type Activities struct {
	Events         eventsv1connect.EventsServiceClient
	Attendance     eventsv1connect.AttendanceServiceClient
	Communications communicationsv1connect.CommunicationsServiceClient
	Templates      communicationsv1connect.TemplatesServiceClient
}

// Kinds of notice SendEventNotice sends.
const (
	NoticeReminder  = "reminder"
	NoticeFeedback  = "feedback"
	NoticeCancelled = "cancelled"
)

// NoticeInput names one notice about one occurrence.
type NoticeInput struct {
	Community    string
	EventID      string
	OccurrenceID string
	Kind         string
	// Before is how long before the start a reminder goes out.
	Before time.Duration `json:",omitempty"`
}

// NoticeResult says how many members a notice reached, or why none.
type NoticeResult struct {
	Sent int
	// Skipped says why nothing was sent, such as "started".
	Skipped string `json:",omitempty"`
}

// Reasons a notice is skipped.
const (
	SkippedStarted   = "started"
	SkippedCancelled = "cancelled"
	SkippedGone      = "gone"
)

// noticeProgress is what a notice's heartbeat carries, so a retried
// attempt resumes after the pages already sent.
type noticeProgress struct {
	PageToken string
	Sent      int
}

// SendEventNotice sends one notice about an occurrence to the members it
// concerns: a reminder to those holding a seat, a cancellation to those
// holding or offered a seat, a feedback request to those who attended.
// Each message's idempotency key is the member's, the occurrence's (with
// its start) and the notice's, so a retry sends nothing twice.
func (a *Activities) SendEventNotice(ctx context.Context, in NoticeInput) (NoticeResult, error) {
	info, err := a.occurrence(ctx, in.Community, in.EventID, in.OccurrenceID)
	if errors.Is(err, errGone) {
		return NoticeResult{Skipped: SkippedGone}, nil
	}
	if err != nil {
		return NoticeResult{}, err
	}
	now := time.Now()
	var statuses []eventsv1.RSVPStatus
	switch in.Kind {
	case NoticeReminder:
		if info.cancelled {
			return NoticeResult{Skipped: SkippedCancelled}, nil
		}
		if !now.Before(info.start) {
			return NoticeResult{Skipped: SkippedStarted}, nil
		}
		statuses = []eventsv1.RSVPStatus{eventsv1.RSVPStatus_RSVP_STATUS_GOING}
	case NoticeCancelled:
		if !now.Before(info.start) {
			return NoticeResult{Skipped: SkippedStarted}, nil
		}
		statuses = []eventsv1.RSVPStatus{eventsv1.RSVPStatus_RSVP_STATUS_GOING, eventsv1.RSVPStatus_RSVP_STATUS_OFFERED,
			eventsv1.RSVPStatus_RSVP_STATUS_CHECKED_IN}
	case NoticeFeedback:
		if info.occurrenceCancelled {
			return NoticeResult{Skipped: SkippedCancelled}, nil
		}
		statuses = []eventsv1.RSVPStatus{eventsv1.RSVPStatus_RSVP_STATUS_CHECKED_IN}
	default:
		return NoticeResult{}, temporal.NewNonRetryableApplicationError("unknown notice "+in.Kind, activityerr.InvalidRequest, nil)
	}
	tpl := defaultTemplate(in.Kind)
	if _, err := templates.Ensure(ctx, a.Templates, in.Community, tpl); err != nil {
		return NoticeResult{}, activityerr.Classify(err)
	}
	vars := info.vars()
	if in.Kind == NoticeReminder {
		vars["starts_in"] = humanDuration(in.Before)
	}
	var progress noticeProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &progress)
	}
	logger := activity.GetLogger(ctx)
	for {
		page, err := a.Attendance.ListAttendees(ctx, connect.NewRequest(&eventsv1.ListAttendeesRequest{Community: in.Community,
			OccurrenceId: in.OccurrenceID, PageSize: 500, PageToken: progress.PageToken}))
		if err != nil {
			return NoticeResult{}, activityerr.Classify(fmt.Errorf("list attendees: %w", err))
		}
		for _, r := range page.Msg.GetRsvps() {
			if !contains(statuses, r.GetStatus()) {
				continue
			}
			key := noticeKey(in, info.start, r.GetMemberId())
			err := a.send(ctx, in.Community, key, r.GetMemberId(), tpl.Name, vars)
			if activityerr.Is(err, activityerr.InvalidRequest) || activityerr.Is(err, activityerr.NotFound) {
				logger.Warn("a notice was refused for one member", "community", in.Community, "occurrence_id", in.OccurrenceID,
					"member_id", r.GetMemberId(), "notice", in.Kind, "error", err)
				continue
			}
			if err != nil {
				return NoticeResult{}, err
			}
			progress.Sent++
		}
		progress.PageToken = page.Msg.GetNextPageToken()
		activity.RecordHeartbeat(ctx, progress)
		if progress.PageToken == "" {
			return NoticeResult{Sent: progress.Sent}, nil
		}
	}
}

// OfferInput names a seat offer to tell a member of.
type OfferInput struct {
	Community string
	EventID   string
	SeatOffer
}

// SendSeatOffer tells a member a seat is held for them until the offer
// expires, once per offer; an offer already taken up, expired or
// withdrawn is skipped.
func (a *Activities) SendSeatOffer(ctx context.Context, in OfferInput) (NoticeResult, error) {
	res, err := a.Attendance.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{Community: in.Community,
		OccurrenceId: in.OccurrenceID, MemberId: in.MemberID}))
	if connect.CodeOf(err) == connect.CodeNotFound {
		return NoticeResult{Skipped: SkippedGone}, nil
	}
	if err != nil {
		return NoticeResult{}, activityerr.Classify(fmt.Errorf("look up the offer: %w", err))
	}
	rsvp := res.Msg.GetRsvp()
	if rsvp.GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_OFFERED || !rsvp.GetOfferExpiresAt().AsTime().Equal(in.ExpiresAt) {
		return NoticeResult{Skipped: "offer " + rsvp.GetStatus().String()}, nil
	}
	info, err := a.occurrence(ctx, in.Community, in.EventID, in.OccurrenceID)
	if errors.Is(err, errGone) {
		return NoticeResult{Skipped: SkippedGone}, nil
	}
	if err != nil {
		return NoticeResult{}, err
	}
	tpl := defaultTemplate(noticeSeatOffer)
	if _, err := templates.Ensure(ctx, a.Templates, in.Community, tpl); err != nil {
		return NoticeResult{}, activityerr.Classify(err)
	}
	vars := info.vars()
	vars["offer_expires_at"] = info.local(in.ExpiresAt)
	key := fmt.Sprintf("seat-offer/%s/%s/%d", in.OccurrenceID, in.MemberID, in.ExpiresAt.Unix())
	if err := a.send(ctx, in.Community, key, in.MemberID, tpl.Name, vars); err != nil {
		return NoticeResult{}, err
	}
	return NoticeResult{Sent: 1}, nil
}

// ExpireInput names the community whose expired offers to pass on.
type ExpireInput struct {
	Community string
}

// ExpireResult is what passing expired offers on did.
type ExpireResult struct {
	Expired int
	Offered int
}

// ExpireSeatOffers passes every expired seat offer of the community to
// the next member on the waitlist (who then gets a SeatOffered of their
// own). Running it twice changes nothing more.
func (a *Activities) ExpireSeatOffers(ctx context.Context, in ExpireInput) (ExpireResult, error) {
	res, err := a.Attendance.ExpireSeatOffers(ctx, connect.NewRequest(&eventsv1.ExpireSeatOffersRequest{Community: in.Community}))
	if err != nil {
		return ExpireResult{}, activityerr.Classify(fmt.Errorf("expire seat offers: %w", err))
	}
	return ExpireResult{Expired: int(res.Msg.GetExpired()), Offered: int(res.Msg.GetOffered())}, nil
}

// NoShowsInput names an ended occurrence.
type NoShowsInput struct {
	Community    string
	OccurrenceID string
}

// MarkNoShows marks the seats of an ended occurrence that were not checked
// in as no-shows. Running it twice marks nothing more.
func (a *Activities) MarkNoShows(ctx context.Context, in NoShowsInput) (int, error) {
	res, err := a.Attendance.MarkNoShows(ctx, connect.NewRequest(&eventsv1.MarkNoShowsRequest{Community: in.Community, OccurrenceId: in.OccurrenceID}))
	if err != nil {
		return 0, activityerr.Classify(fmt.Errorf("mark no-shows: %w", err))
	}
	return int(res.Msg.GetMarked()), nil
}

// send sends one templated message; the communications service renders
// it for the member from its own copy of their address and locale.
func (a *Activities) send(ctx context.Context, community, key, memberID, template string, vars map[string]string) error {
	_, err := a.Communications.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{
		Community: community, IdempotencyKey: key, MemberId: memberID, Template: template, Variables: vars,
	}))
	if info := activity.GetInfo(ctx); activityerr.Settling(err, info.ScheduledTime, time.Now()) {
		return activityerr.WaitFor(fmt.Sprintf("send %s: the communications service has not seen the member yet", template), err, info.Attempt)
	}
	if err != nil {
		return activityerr.Classify(fmt.Errorf("send %s: %w", template, err))
	}
	return nil
}

// noticeKey is one member's notice about one occurrence at one start
// time: a moved occurrence is announced again, a retried one is not.
func noticeKey(in NoticeInput, start time.Time, memberID string) string {
	kind := in.Kind
	if in.Kind == NoticeReminder {
		kind += "-" + shortDuration(in.Before)
	}
	return fmt.Sprintf("event-%s/%s/%d/%s", kind, in.OccurrenceID, start.Unix(), memberID)
}

func contains(statuses []eventsv1.RSVPStatus, s eventsv1.RSVPStatus) bool {
	for _, x := range statuses {
		if x == s {
			return true
		}
	}
	return false
}
