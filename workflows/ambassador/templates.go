package ambassador

import "github.com/kinshiphq/kinship/internal/templates"

// TemplatePrefix starts the name of every programme template: a message
// of kind k is the communications template "ambassador-<k>", such as
// "ambassador-check-in". Each is created with its default text (the
// fallback variant) the first time a community needs it; organisers
// change it, add locale variants and preview them with the
// communications service's templates.
//
// Every template sees the recipient as {{.Member}} and these variables:
// candidate_name and candidate_id (the candidate or ambassador the
// message is about), tier, tasks (one training task a line) and quotas
// (one quota a line, such as "- hosted event: 1 of 1").
const TemplatePrefix = "ambassador-"

// TemplateOf is the template of a kind of message.
func TemplateOf(kind string) string { return TemplatePrefix + kind }

// Kinds lists every kind of message the programme sends.
func Kinds() []string {
	return []string{MessageReviewRequest, MessageReviewEscalation, MessageDeclined, MessageTrainingStarted, MessageTaskReminder,
		MessageTaskOverdue, MessageActivated, MessageCheckIn, MessageTierChanged, MessageRenewed, MessageThankYou}
}

// DefaultTemplate is the default text of a kind of message.
func DefaultTemplate(kind string) (templates.Default, bool) {
	subject, text, ok := defaultText(kind)
	if !ok {
		return templates.Default{}, false
	}
	return templates.Default{Name: TemplateOf(kind), Subject: subject,
		TextBody: "Hi {{.Member.DisplayName}},\n\n" + text + "\n\nThe {{.Community}} organisers\n"}, true
}

func defaultText(kind string) (subject, text string, ok bool) {
	switch kind {
	case MessageReviewRequest:
		return "Please review {{.Vars.candidate_name}}'s ambassador nomination",
			"{{.Vars.candidate_name}} was nominated as an ambassador of {{.Community}}. Please review the nomination — approve or reject it with\n`kinship journeys review {{.Vars.candidate_id}} approve|reject` or in the console.", true
	case MessageReviewEscalation:
		return "Waiting for review: {{.Vars.candidate_name}}'s ambassador nomination",
			"{{.Vars.candidate_name}}'s nomination as an ambassador of {{.Community}} has waited for a review for a while. Please review it soon\n(`kinship journeys review {{.Vars.candidate_id}} approve|reject`); it expires otherwise.", true
	case MessageDeclined:
		return "About your {{.Community}} ambassador nomination",
			"Thank you for your interest in becoming an ambassador. This time the organisers decided not to go ahead with\nthe nomination. Your contribution matters all the same, and there will be other chances.", true
	case MessageTrainingStarted:
		return "Welcome to the {{.Community}} ambassador training",
			"Your nomination was approved! Before you start, please complete these training tasks:\n\n{{.Vars.tasks}}\nWe will remind you before each one is due.", true
	case MessageTaskReminder:
		return "Reminder: ambassador training task due soon",
			"Your training task is due in a little while:\n\n{{.Vars.tasks}}", true
	case MessageTaskOverdue:
		return "Ambassador training task overdue",
			"Your training task is past its deadline:\n\n{{.Vars.tasks}}\nPlease complete it soon, or tell the organisers if you need help.", true
	case MessageActivated:
		return "You are a {{.Community}} ambassador now",
			"Congratulations: you are an ambassador of {{.Community}}, at the {{.Vars.tier}} tier. New members may be paired with you\nas their buddy, and we will check in with you regularly.", true
	case MessageCheckIn:
		return "Your {{.Community}} ambassador check-in",
			"How is it going? Here is where you stand this period:\n\n{{with .Vars.quotas}}{{.}}{{else}}- no quotas this period; thank you for being there\n{{end}}\nReply to this e-mail if anything gets in your way.", true
	case MessageTierChanged:
		return "Your ambassador tier is now {{.Vars.tier}}",
			"After this period's review your ambassador tier in {{.Community}} is {{.Vars.tier}}.", true
	case MessageRenewed:
		return "Another year as a {{.Community}} ambassador",
			"Your ambassadorship ({{.Vars.tier}}) is renewed for another year. Thank you for everything you did this year!", true
	case MessageThankYou:
		return "Thank you from {{.Community}}",
			"Your time in the ambassador programme has come to an end. Thank you for everything you gave the community —\nyou are always welcome at our events.", true
	}
	return "", "", false
}
