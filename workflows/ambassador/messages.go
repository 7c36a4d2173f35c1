package ambassador

import (
	"context"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/activity"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// Message is one programme e-mail to each member of To, about the
// candidate About. It carries ids, task names, tiers and counts only.
type Message struct {
	Community  string
	To         []string
	About      string
	WorkflowID string
	Kind       string
	// Key makes the idempotency key unique in the candidacy; each
	// recipient gets <workflow>/<key>/<recipient>.
	Key    string
	Tasks  []string        `json:",omitempty"`
	Tier   string          `json:",omitempty"`
	Quotas []QuotaProgress `json:",omitempty"`
}

// NotifyResult names the recipients who were not reached: gone from the
// community, or refused by the mail server.
type NotifyResult struct {
	Undelivered []string
}

// Notify sends m's template to each recipient once.
func (a *Activities) Notify(ctx context.Context, m Message) (NotifyResult, error) {
	d, ok := DefaultTemplate(m.Kind)
	if !ok {
		return NotifyResult{}, classify(connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("unknown message kind %q", m.Kind)), ErrTypeNotFound)
	}
	if err := a.Templates.Ensure(ctx, m.Community, d); err != nil {
		return NotifyResult{}, classify(fmt.Errorf("make sure of template %s: %w", d.Name, err), ErrTypeNotFound)
	}
	about, err := a.member(ctx, m.Community, m.About)
	if err != nil {
		return NotifyResult{}, err
	}
	vars := m.variables(about)
	var res NotifyResult
	for _, to := range m.To {
		recipient := about
		if to != m.About {
			if recipient, err = a.member(ctx, m.Community, to); isType(err, ErrTypeMemberNotFound) {
				res.Undelivered = append(res.Undelivered, to)
				continue
			} else if err != nil {
				return NotifyResult{}, err
			}
		}
		sent, err := a.Communications.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{
			Community: m.Community, IdempotencyKey: m.WorkflowID + "/" + m.Key + "/" + to,
			MemberId: recipient.GetId(), ToEmail: recipient.GetEmail(), Template: d.Name, Variables: vars,
		}))
		if info := activity.GetInfo(ctx); activityerr.Settling(err, info.ScheduledTime, time.Now()) {
			return NotifyResult{}, activityerr.WaitFor(fmt.Sprintf("send %s message: the communications service has not seen the member yet", m.Kind), err, info.Attempt)
		}
		if err != nil {
			return NotifyResult{}, classify(fmt.Errorf("send %s message: %w", m.Kind, err), ErrTypeNotFound)
		}
		if sent.Msg.GetMessage().GetStatus() == communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED {
			res.Undelivered = append(res.Undelivered, to)
		}
	}
	return res, nil
}

// variables are what a programme template sees besides the recipient.
func (m Message) variables(about *membersv1.Member) map[string]string {
	vars := map[string]string{"candidate_name": about.GetDisplayName(), "candidate_id": about.GetId(), "tier": m.Tier}
	var tasks, quotas strings.Builder
	for _, t := range m.Tasks {
		fmt.Fprintf(&tasks, "- %s\n", t)
	}
	for _, q := range m.Quotas {
		fmt.Fprintf(&quotas, "- %s: %d of %d\n", strings.ReplaceAll(q.Activity, "_", " "), q.Count, q.Target)
	}
	vars["tasks"], vars["quotas"] = tasks.String(), quotas.String()
	return vars
}

// member looks up a member still in the community.
func (a *Activities) member(ctx context.Context, community, id string) (*membersv1.Member, error) {
	res, err := a.Members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: community, Id: id}))
	if err != nil {
		return nil, classifyMember(fmt.Errorf("look up member %s: %w", id, err))
	}
	m := res.Msg.GetMember()
	if s := m.GetStatus(); s == membersv1.MemberStatus_MEMBER_STATUS_LEFT || s == membersv1.MemberStatus_MEMBER_STATUS_ERASED {
		return nil, classifyMember(connect.NewError(connect.CodeNotFound, fmt.Errorf("member %s is no longer in the community", id)))
	}
	return m, nil
}
