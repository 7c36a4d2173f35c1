package onboarding

import (
	"fmt"
	"strings"
	"time"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

// eventLines lists events for the event suggestion template
// ({{.Vars.events}}), one a line, each with its next start in the member's
// time zone (UTC when they gave none) and where it takes place.
func eventLines(m *membersv1.Member, events []*eventsv1.Event) string {
	loc, err := time.LoadLocation(profileOf(m).GetTimeZone())
	if err != nil {
		loc = time.UTC
	}
	var b strings.Builder
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
	return b.String()
}
