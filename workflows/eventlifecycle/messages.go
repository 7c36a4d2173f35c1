package eventlifecycle

import "github.com/kinshiphq/kinship/internal/templates"

// noticeSeatOffer is the template key of seat offers.
const noticeSeatOffer = "seat-offer"

// defaultTemplate is the message of a kind of notice a community gets
// until an organiser saves their own under the same name. Variables:
// title, starts_at, ends_at, venue, online_url, event_id, occurrence_id;
// starts_in for reminders, reason for cancellations, offer_expires_at for
// seat offers.
func defaultTemplate(kind string) templates.Default {
	switch kind {
	case NoticeReminder:
		return templates.Default{
			Name:    "event-reminder",
			Subject: "Reminder: {{.Vars.title}} starts in {{.Vars.starts_in}}",
			TextBody: `Hi {{.Member.DisplayName}},

{{.Vars.title}} starts in {{.Vars.starts_in}}: {{.Vars.starts_at}}.
{{if .Vars.venue}}Where: {{.Vars.venue}}
{{end}}{{if .Vars.online_url}}Join online: {{.Vars.online_url}}
{{end}}
If you cannot come after all, please cancel your RSVP so someone on the
waitlist gets your seat.

See you there,
the {{.Community}} organisers
`,
		}
	case NoticeCancelled:
		return templates.Default{
			Name:    "event-cancelled",
			Subject: "Cancelled: {{.Vars.title}} on {{.Vars.starts_at}}",
			TextBody: `Hi {{.Member.DisplayName}},

we are sorry: {{.Vars.title}} on {{.Vars.starts_at}} is cancelled.
{{if .Vars.reason}}
{{.Vars.reason}}
{{end}}
Your seat is released; there is nothing you need to do.

The {{.Community}} organisers
`,
		}
	case NoticeFeedback:
		return templates.Default{
			Name:    "event-feedback",
			Subject: "How was {{.Vars.title}}?",
			TextBody: `Hi {{.Member.DisplayName}},

thank you for coming to {{.Vars.title}} on {{.Vars.starts_at}}.

How was it? Rate it from 1 to 5 in the app, with a comment if you like —
it helps us plan the next one.

The {{.Community}} organisers
`,
		}
	case noticeSeatOffer:
		return templates.Default{
			Name:    "event-seat-offer",
			Subject: "A seat is free for you: {{.Vars.title}}",
			TextBody: `Hi {{.Member.DisplayName}},

good news: a seat at {{.Vars.title}} on {{.Vars.starts_at}} has come free,
and we are holding it for you until {{.Vars.offer_expires_at}}.

Accept the offer in the app before then; after that the seat goes to the
next person on the waitlist.

The {{.Community}} organisers
`,
		}
	}
	return templates.Default{}
}
