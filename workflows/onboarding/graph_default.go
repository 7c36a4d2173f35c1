package onboarding

import (
	"fmt"
	"time"
)

// DefaultGraph is the journey of a community that has not defined one:
// the default steps of DefaultDefinition as a graph.
func DefaultGraph() Graph { return FromLinear(DefaultDefinition()) }

// FromLinear turns a journey of the fixed step types (the journeys file's
// first format) into a graph that does the same: each reminder becomes a
// send between two waits, a first attendance that never comes ends the
// journey as lapsed, and a journey that runs its course ends onboarded.
func FromLinear(d Definition) Graph {
	var g Graph
	add := func(n Node) { g.Steps = append(g.Steps, n) }
	// waits adds the waits of a step with reminders; the last wait's
	// timeout goes to timedOut ("" for the step after).
	waits := func(s Step, signal, reminderTemplate, timedOut string) {
		wait := s.waitOrDefault()
		var elapsed time.Duration
		for i, r := range s.Reminders {
			id := s.Type
			if i > 0 {
				id = fmt.Sprintf("%s-%d", s.Type, i+1)
			}
			reminder := fmt.Sprintf("%s-reminder-%d", s.Type, i+1)
			add(Node{ID: id, Kind: KindWaitFor, Signal: signal, Timeout: Duration(r.Std() - elapsed), Next: "$after-" + s.Type, OnTimeout: reminder})
			add(Node{ID: reminder, Kind: KindSend, Template: reminderTemplate})
			elapsed = r.Std()
		}
		id := s.Type
		if len(s.Reminders) > 0 {
			id = fmt.Sprintf("%s-%d", s.Type, len(s.Reminders)+1)
		}
		add(Node{ID: id, Kind: KindWaitFor, Signal: signal, Timeout: Duration(wait - elapsed), Next: "$after-" + s.Type, OnTimeout: timedOut})
	}
	lapses := false
	for _, s := range d.Steps {
		switch s.Type {
		case StepWelcome:
			add(Node{ID: StepWelcome, Kind: KindSend, Template: TemplateWelcome})
		case StepCompleteProfile:
			waits(s, WaitProfileCompleted, TemplateProfileReminder, "$after-"+s.Type)
		case StepSuggestEvent:
			n := Node{ID: StepSuggestEvent, Kind: KindSuggestEvents}
			if s.Limit != DefaultSuggestions {
				n.Limit = s.Limit
			}
			add(n)
		case StepAssignBuddy:
			add(Node{ID: StepAssignBuddy, Kind: KindAssignBuddy})
		case StepFirstAttendance:
			waits(s, WaitCheckedIn, TemplateAttendanceNudge, OutcomeLapsed)
			lapses = true
		}
		// What comes after the step is only known once the next is added.
		after := "$after-" + s.Type
		for i := range g.Steps {
			if g.Steps[i].Next == after || g.Steps[i].OnTimeout == after {
				g.Steps[i].Next = replaceAfter(g.Steps[i].Next, after, len(g.Steps))
				g.Steps[i].OnTimeout = replaceAfter(g.Steps[i].OnTimeout, after, len(g.Steps))
			}
		}
	}
	add(Node{ID: OutcomeOnboarded, Kind: KindEnd, Outcome: OutcomeOnboarded})
	if lapses {
		add(Node{ID: OutcomeLapsed, Kind: KindEnd, Outcome: OutcomeLapsed})
	}
	// The markers name the position of the step after; turn them into ids.
	for i := range g.Steps {
		g.Steps[i].Next = g.resolveMarker(g.Steps[i].Next)
		g.Steps[i].OnTimeout = g.resolveMarker(g.Steps[i].OnTimeout)
		// A next that is the step listed after is left implicit.
		if g.Steps[i].Next != "" && g.Steps[i].Next == g.following(i) {
			g.Steps[i].Next = ""
		}
		if g.Steps[i].Kind == KindWaitFor && g.Steps[i].OnTimeout == g.next(i) {
			g.Steps[i].OnTimeout = ""
		}
	}
	return g
}

// replaceAfter turns the "$after-<type>" marker into "$at-<position>".
func replaceAfter(link, marker string, position int) string {
	if link != marker {
		return link
	}
	return fmt.Sprintf("$at-%d", position)
}

// resolveMarker turns "$at-<position>" into the id of the step there.
func (g Graph) resolveMarker(link string) string {
	var at int
	if _, err := fmt.Sscanf(link, "$at-%d", &at); err != nil {
		return link
	}
	return g.Steps[at].ID
}
