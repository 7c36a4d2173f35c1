package onboarding

import "github.com/kinshiphq/kinship/internal/templates"

// The communications templates a journey sends unless its definition
// names others. Each is created with its default text (the fallback
// variant) the first time a community needs it; organisers change the
// text, add locale variants and preview them with the communications
// service's templates.
const (
	TemplateWelcome         = "onboarding-welcome"
	TemplateProfileReminder = "onboarding-profile-reminder"
	TemplateAttendanceNudge = "onboarding-attendance-nudge"
	// TemplateEventSuggestion sees the events as {{.Vars.events}}, one a
	// line, with their next start in the member's time zone.
	TemplateEventSuggestion = "onboarding-event-suggestion"
	// TemplateBuddyMember and TemplateBuddyAmbassador introduce a member
	// and their buddy: {{.Vars.buddy_name}} and {{.Vars.member_name}}.
	TemplateBuddyMember     = "onboarding-buddy-member"
	TemplateBuddyAmbassador = "onboarding-buddy-ambassador"
	// TemplateOrganiserNotice tells organisers about a member's journey:
	// {{.Vars.member_name}}, {{.Vars.member_id}} and {{.Vars.step}}.
	TemplateOrganiserNotice = "onboarding-organiser-notice"
)

// DefaultTemplates are the texts of the journey's own templates, by name.
func DefaultTemplates() []templates.Default {
	return []templates.Default{
		{Name: TemplateWelcome, Subject: "Welcome to {{.Community}}, {{.Member.DisplayName}}!", TextBody: `Hi {{.Member.DisplayName}},

welcome to the {{.Community}} community! We are glad you are here.

Tell us a little about yourself — your interests, where you are and how much
time you would like to give — so we can suggest events and people near you.

See you soon,
the {{.Community}} organisers
`},
		{Name: TemplateProfileReminder, Subject: "{{.Member.DisplayName}}, finish setting up your {{.Community}} profile", TextBody: `Hi {{.Member.DisplayName}},

you joined {{.Community}} a little while ago. Completing your profile takes
two minutes and helps us match you with events and members who share your
interests.

Thank you,
the {{.Community}} organisers
`},
		{Name: TemplateAttendanceNudge, Subject: "{{.Member.DisplayName}}, we would love to meet you at a {{.Community}} event", TextBody: `Hi {{.Member.DisplayName}},

you have been part of {{.Community}} for a while now, and we have not met you
at an event yet. Gatherings are where the community comes alive: have a look
at what is coming up and join one that suits you.

Hope to see you soon,
the {{.Community}} organisers
`},
		{Name: TemplateEventSuggestion, Subject: "{{.Member.DisplayName}}, events for you in {{.Community}}", TextBody: `Hi {{.Member.DisplayName}},

here are events of {{.Community}} we think you will like:

{{.Vars.events}}
Reply to an invitation in the community to save your seat.

See you there,
the {{.Community}} organisers
`},
		{Name: TemplateBuddyMember, Subject: "{{.Member.DisplayName}}, meet your {{.Community}} buddy", TextBody: `Hi {{.Member.DisplayName}},

{{.Vars.buddy_name}}, one of our ambassadors, will be your buddy in
{{.Community}}: someone to ask anything and to come along to your first
event with. They will get in touch with you soon.

Welcome aboard,
the {{.Community}} organisers
`},
		{Name: TemplateBuddyAmbassador, Subject: "{{.Member.DisplayName}}, you have a new buddy in {{.Community}}", TextBody: `Hi {{.Member.DisplayName}},

{{.Vars.member_name}} joined {{.Community}} recently and you are their buddy
now. Say hello, answer their questions and help them find a first event.

Thank you for being an ambassador,
the {{.Community}} organisers
`},
		{Name: TemplateOrganiserNotice, Subject: "Onboarding: {{.Vars.member_name}} reached {{.Vars.step}}", TextBody: `Hi {{.Member.DisplayName}},

{{.Vars.member_name}} ({{.Vars.member_id}}) reached the step "{{.Vars.step}}"
of their onboarding journey in {{.Community}}. Have a look at their journey
in the console.

Kinship
`},
	}
}

// DefaultTemplate returns the default text of one of the journey's own
// templates.
func DefaultTemplate(name string) (templates.Default, bool) {
	for _, d := range DefaultTemplates() {
		if d.Name == name {
			return d, true
		}
	}
	return templates.Default{}, false
}
