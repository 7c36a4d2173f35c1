package onboarding

import (
	"fmt"
	"strings"
	"time"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
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

func attendanceNudgeMessage(m *membersv1.Member) (subject, body string) {
	subject = fmt.Sprintf("%s, we would love to meet you at a %s event", m.GetDisplayName(), m.GetCommunity())
	body = fmt.Sprintf(`Hi %s,

you have been part of %s for a while now, and we have not met you at an
event yet. Gatherings are where the community comes alive: have a look at
what is coming up and join one that suits you.

Hope to see you soon,
the %s organisers
`, m.GetDisplayName(), m.GetCommunity(), m.GetCommunity())
	return subject, body
}

// eventSuggestionMessage lists events with their next start in the
// member's time zone (UTC when they gave none).
func eventSuggestionMessage(m *membersv1.Member, events []*eventsv1.Event) (subject, body string) {
	loc, err := time.LoadLocation(profileOf(m).GetTimeZone())
	if err != nil {
		loc = time.UTC
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hi %s,\n\nhere are events of %s we think you will like:\n\n", m.GetDisplayName(), m.GetCommunity())
	for _, e := range events {
		fmt.Fprintf(&b, "- %s", e.GetSpec().GetTitle())
		if occ := e.GetOccurrences(); len(occ) > 0 && occ[0].GetStartTime() != nil {
			fmt.Fprintf(&b, ", %s", occ[0].GetStartTime().AsTime().In(loc).Format("Mon 2 Jan 2006, 15:04 MST"))
		}
		switch e.GetSpec().GetKind() {
		case eventsv1.EventKind_EVENT_KIND_ONLINE:
			b.WriteString(" (online)")
		case eventsv1.EventKind_EVENT_KIND_OFFLINE, eventsv1.EventKind_EVENT_KIND_HYBRID:
			if city := e.GetSpec().GetVenue().GetCity(); city != "" {
				fmt.Fprintf(&b, " (%s)", city)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nReply to an invitation in the community to save your seat.\n\nSee you there,\nthe %s organisers\n", m.GetCommunity())
	return fmt.Sprintf("%s, events for you in %s", m.GetDisplayName(), m.GetCommunity()), b.String()
}

func buddyForMemberMessage(m, ambassador *membersv1.Member) (subject, body string) {
	subject = fmt.Sprintf("%s, meet your %s buddy", m.GetDisplayName(), m.GetCommunity())
	body = fmt.Sprintf(`Hi %s,

%s, one of our ambassadors, will be your buddy in %s: someone to ask
anything and to come along to your first event with. They will get in touch
with you soon.

Welcome aboard,
the %s organisers
`, m.GetDisplayName(), ambassador.GetDisplayName(), m.GetCommunity(), m.GetCommunity())
	return subject, body
}

func buddyForAmbassadorMessage(ambassador, m *membersv1.Member) (subject, body string) {
	subject = fmt.Sprintf("%s, you have a new buddy in %s", ambassador.GetDisplayName(), ambassador.GetCommunity())
	body = fmt.Sprintf(`Hi %s,

%s joined %s recently and you are their buddy now. Say hello, answer their
questions and help them find a first event.

Thank you for being an ambassador,
the %s organisers
`, ambassador.GetDisplayName(), m.GetDisplayName(), ambassador.GetCommunity(), ambassador.GetCommunity())
	return subject, body
}
