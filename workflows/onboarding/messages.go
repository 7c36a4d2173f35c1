package onboarding

import (
	"fmt"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

// The onboarding e-mails. Templates per community come with the
// communications service's templates; these are the defaults.

func welcomeMessage(m *membersv1.Member) (subject, body string) {
	subject = fmt.Sprintf("Welcome to %s, %s!", m.GetCommunity(), m.GetDisplayName())
	body = fmt.Sprintf(`Hi %s,

welcome to the %s community! We are glad you are here.

Tell us a little about yourself — your interests, where you are and how much
time you would like to give — so we can suggest events and people near you.

See you soon,
the %s organisers
`, m.GetDisplayName(), m.GetCommunity(), m.GetCommunity())
	return subject, body
}

func profileReminderMessage(m *membersv1.Member) (subject, body string) {
	subject = fmt.Sprintf("%s, finish setting up your %s profile", m.GetDisplayName(), m.GetCommunity())
	body = fmt.Sprintf(`Hi %s,

you joined %s a little while ago. Completing your profile takes two minutes
and helps us match you with events and members who share your interests.

Thank you,
the %s organisers
`, m.GetDisplayName(), m.GetCommunity(), m.GetCommunity())
	return subject, body
}
