package partners

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/internal/templates"
	"github.com/kinshiphq/kinship/services/partners/api"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/store"
)

// ReminderTemplate is the communications template attention e-mails are
// rendered from; a community without one gets DefaultReminderTemplate.
// It sees {{.Member}} (the recipient) and the variables headline, detail,
// kind, partner_id, agreement_id, due_date and escalated ("true" or
// "false").
const ReminderTemplate = "partner-reminder"

// Default subject and body of the reminder template.
const (
	defaultReminderSubject = "{{.Vars.headline}}"
	defaultReminderBody    = `Hello {{.Member.DisplayName}},

{{.Vars.detail}}

Open the partners' attention list to acknowledge it, or renew, end or
review it; it is taken off the list once that is done.
`
)

// mailNotifier e-mails attention items through the communications service
// and finds the organisers through the members service, both as this
// workload.
type mailNotifier struct {
	store     *store.Store
	messages  communicationsv1connect.CommunicationsServiceClient
	templates communicationsv1connect.TemplatesServiceClient
	segments  membersv1connect.SegmentsServiceClient
}

var _ api.Notifier = (*mailNotifier)(nil)

func newMailNotifier(st *store.Store, communicationsURL, membersURL string, credentials auth.TokenSource, tp trace.TracerProvider) (*mailNotifier, error) {
	hc, opts, err := service.Client("partners", credentials, tp)
	if err != nil {
		return nil, err
	}
	return &mailNotifier{
		store:     st,
		messages:  communicationsv1connect.NewCommunicationsServiceClient(hc, communicationsURL, opts...),
		templates: communicationsv1connect.NewTemplatesServiceClient(hc, communicationsURL, opts...),
		segments:  membersv1connect.NewSegmentsServiceClient(hc, membersURL, opts...),
	}, nil
}

// Send e-mails memberID about item; the idempotency key makes a repeated
// send (a retry after a failure to record it) deliver nothing twice.
func (n *mailNotifier) Send(ctx context.Context, item domain.AttentionItem, memberID string, escalated bool) error {
	if err := n.ensureTemplate(ctx, item.Community); err != nil {
		return err
	}
	headline, detail, err := n.describe(ctx, item, escalated)
	if err != nil {
		return err
	}
	who := "owner"
	if escalated {
		who = "escalated"
	}
	_, err = n.messages.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{
		Community: item.Community, IdempotencyKey: fmt.Sprintf("partners-attention/%s/%s/%s", item.ID, memberID, who), MemberId: memberID,
		Template: ReminderTemplate, Variables: map[string]string{
			"headline": headline, "detail": detail, "kind": string(item.Kind), "partner_id": item.PartnerID,
			"agreement_id": item.AgreementID, "due_date": item.DueDate.String(), "escalated": fmt.Sprint(escalated),
		},
	}))
	if err != nil {
		return fmt.Errorf("send attention mail: %w", err)
	}
	return nil
}

// describe words item for its e-mail.
func (n *mailNotifier) describe(ctx context.Context, item domain.AttentionItem, escalated bool) (headline, detail string, err error) {
	p, err := n.store.GetPartner(ctx, item.Community, item.PartnerID)
	if err != nil {
		return "", "", fmt.Errorf("read partner %s: %w", item.PartnerID, err)
	}
	switch item.Kind {
	case domain.AttentionAgreementExpiring:
		a, err := n.store.GetAgreement(ctx, item.Community, item.AgreementID)
		if err != nil {
			return "", "", fmt.Errorf("read agreement %s: %w", item.AgreementID, err)
		}
		headline = fmt.Sprintf("Agreement with %s ends on %s", p.Name, item.DueDate)
		detail = fmt.Sprintf("The agreement %q with %s ends on %s. Renew it, or let it end on purpose.", a.Title, p.Name, item.DueDate)
	default:
		headline = fmt.Sprintf("Time to review the partnership with %s", p.Name)
		detail = fmt.Sprintf("The relationship with %s was due for review on %s.", p.Name, item.DueDate)
	}
	if escalated {
		headline = "Needs someone: " + headline
		if item.OwnerID != "" {
			detail += " Its owner was told, and nobody has acknowledged it since."
		} else {
			detail += " Nobody owns this relationship yet."
		}
	}
	return headline, detail, nil
}

// ensureTemplate creates the reminder template with its default unless
// the community has one; an organiser's own is never overwritten.
func (n *mailNotifier) ensureTemplate(ctx context.Context, community string) error {
	_, err := templates.Ensure(ctx, n.templates, community, templates.Default{Name: ReminderTemplate, Subject: defaultReminderSubject, TextBody: defaultReminderBody})
	return err
}

// Organisers lists the member ids holding the organiser role.
func (n *mailNotifier) Organisers(ctx context.Context, community string) ([]string, error) {
	var out []string
	token := ""
	for {
		res, err := n.segments.ListSegmentMembers(ctx, connect.NewRequest(&membersv1.ListSegmentMembersRequest{Community: community,
			Filter: &membersv1.SegmentFilter{Roles: []string{"organiser"}}, PageSize: 500, PageToken: token}))
		if err != nil {
			return nil, fmt.Errorf("list organisers: %w", err)
		}
		for _, m := range res.Msg.GetMembers() {
			out = append(out, m.GetId())
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}
