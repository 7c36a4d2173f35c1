package ambassador

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
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

// Notify sends m to each recipient once.
func (a *Activities) Notify(ctx context.Context, m Message) (NotifyResult, error) {
	compose, ok := composers()[m.Kind]
	if !ok {
		return NotifyResult{}, classify(connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("unknown message kind %q", m.Kind)), ErrTypeNotFound)
	}
	about, err := a.member(ctx, m.Community, m.About)
	if err != nil {
		return NotifyResult{}, err
	}
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
		subject, body := compose(recipient, about, m)
		sent, err := a.Communications.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{
			Community: m.Community, IdempotencyKey: m.WorkflowID + "/" + m.Key + "/" + to,
			MemberId: recipient.GetId(), ToEmail: recipient.GetEmail(), Subject: subject, TextBody: body,
		}))
		if err != nil {
			return NotifyResult{}, classify(fmt.Errorf("send %s message: %w", m.Kind, err), ErrTypeNotFound)
		}
		if sent.Msg.GetMessage().GetStatus() == communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED {
			res.Undelivered = append(res.Undelivered, to)
		}
	}
	return res, nil
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

type composer func(to, about *membersv1.Member, m Message) (subject, body string)

// composers write each kind of message; templates per community come with
// the communications service's templates.
func composers() map[string]composer {
	return map[string]composer{
		MessageReviewRequest: func(to, about *membersv1.Member, _ Message) (string, string) {
			return fmt.Sprintf("Please review %s's ambassador nomination", about.GetDisplayName()),
				letter(to, about, fmt.Sprintf("%s was nominated as an ambassador of %s. Please review the nomination — approve or reject it with\n`kinship journeys review %s approve|reject` or in the console.", about.GetDisplayName(), about.GetCommunity(), about.GetId()))
		},
		MessageReviewEscalation: func(to, about *membersv1.Member, _ Message) (string, string) {
			return fmt.Sprintf("Waiting for review: %s's ambassador nomination", about.GetDisplayName()),
				letter(to, about, fmt.Sprintf("%s's nomination as an ambassador of %s has waited for a review for a while. Please review it soon\n(`kinship journeys review %s approve|reject`); it expires otherwise.", about.GetDisplayName(), about.GetCommunity(), about.GetId()))
		},
		MessageDeclined: func(to, about *membersv1.Member, _ Message) (string, string) {
			return fmt.Sprintf("About your %s ambassador nomination", about.GetCommunity()),
				letter(to, about, "Thank you for your interest in becoming an ambassador. This time the organisers decided not to go ahead with\nthe nomination. Your contribution matters all the same, and there will be other chances.")
		},
		MessageTrainingStarted: func(to, about *membersv1.Member, m Message) (string, string) {
			return fmt.Sprintf("Welcome to the %s ambassador training", about.GetCommunity()),
				letter(to, about, "Your nomination was approved! Before you start, please complete these training tasks:\n\n- "+strings.Join(m.Tasks, "\n- ")+"\n\nWe will remind you before each one is due.")
		},
		MessageTaskReminder: func(to, about *membersv1.Member, m Message) (string, string) {
			return "Reminder: ambassador training task due soon",
				letter(to, about, "Your training task \""+strings.Join(m.Tasks, ", ")+"\" is due in a little while.")
		},
		MessageTaskOverdue: func(to, about *membersv1.Member, m Message) (string, string) {
			return "Ambassador training task overdue",
				letter(to, about, "Your training task \""+strings.Join(m.Tasks, ", ")+"\" is past its deadline. Please complete it soon, or tell the organisers if you need help.")
		},
		MessageActivated: func(to, about *membersv1.Member, m Message) (string, string) {
			return fmt.Sprintf("You are a %s ambassador now", about.GetCommunity()),
				letter(to, about, fmt.Sprintf("Congratulations: you are an ambassador of %s, at the %s tier. New members may be paired with you\nas their buddy, and we will check in with you every month.", about.GetCommunity(), m.Tier))
		},
		MessageCheckIn: func(to, about *membersv1.Member, m Message) (string, string) {
			var b strings.Builder
			b.WriteString("How is it going? Here is where you stand this period:\n\n")
			for _, q := range m.Quotas {
				fmt.Fprintf(&b, "- %s: %d of %d\n", strings.ReplaceAll(q.Activity, "_", " "), q.Count, q.Target)
			}
			if len(m.Quotas) == 0 {
				b.WriteString("- no quotas this period; thank you for being there\n")
			}
			b.WriteString("\nReply to this e-mail if anything gets in your way.")
			return fmt.Sprintf("Your monthly %s ambassador check-in", about.GetCommunity()), letter(to, about, b.String())
		},
		MessageTierChanged: func(to, about *membersv1.Member, m Message) (string, string) {
			return fmt.Sprintf("Your ambassador tier is now %s", m.Tier),
				letter(to, about, fmt.Sprintf("After this quarter's review your ambassador tier in %s is %s.", about.GetCommunity(), m.Tier))
		},
		MessageRenewed: func(to, about *membersv1.Member, m Message) (string, string) {
			return fmt.Sprintf("Another year as a %s ambassador", about.GetCommunity()),
				letter(to, about, fmt.Sprintf("Your ambassadorship (%s) is renewed for another year. Thank you for everything you did this year!", m.Tier))
		},
		MessageThankYou: func(to, about *membersv1.Member, _ Message) (string, string) {
			return fmt.Sprintf("Thank you from %s", about.GetCommunity()),
				letter(to, about, "Your time in the ambassador programme has come to an end. Thank you for everything you gave the community —\nyou are always welcome at our events.")
		},
	}
}

func letter(to, about *membersv1.Member, text string) string {
	return fmt.Sprintf("Hi %s,\n\n%s\n\nThe %s organisers\n", to.GetDisplayName(), text, about.GetCommunity())
}
