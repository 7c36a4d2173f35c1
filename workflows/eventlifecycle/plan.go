package eventlifecycle

import (
	"slices"
	"time"
)

// Occurrence is one sitting of an event and when it happens.
type Occurrence struct {
	ID    string
	Start time.Time
	End   time.Time
}

// Kinds of step the lifecycle takes for each occurrence.
const (
	StepReminder = "reminder"
	StepFeedback = "feedback"
	StepNoShows  = "no-shows"
)

// States of a step.
const (
	StatePending = "pending"
	StateDone    = "done"
	// StateSkipped: too late — the reminder's time had passed when it was
	// planned, or the occurrence had started when it came due.
	StateSkipped = "skipped"
	// StateFailed: the services refused or stayed unavailable; the
	// lifecycle goes on.
	StateFailed = "failed"
)

// Step is one thing the lifecycle does for an occurrence, at Due.
type Step struct {
	Kind string
	// Before is how long before the start a reminder goes out.
	Before time.Duration `json:",omitempty"`
	Due    time.Time
	State  string
	// Count is how many members the step reached (messages sent, seats
	// marked no-show).
	Count int `json:",omitempty"`
}

// OccurrencePlan is an occurrence and its steps.
type OccurrencePlan struct {
	Occurrence
	Steps []Step
}

// planOccurrence lays out o's steps as of now: a reminder for each offset
// (skipped when its time passed more than the grace ago), feedback and
// no-shows after the end.
func planOccurrence(o Occurrence, s Settings, now time.Time) OccurrencePlan {
	p := OccurrencePlan{Occurrence: o}
	for _, before := range s.ReminderOffsets {
		st := Step{Kind: StepReminder, Before: before, Due: o.Start.Add(-before), State: StatePending}
		if now.After(st.Due.Add(s.ReminderGrace)) {
			st.State = StateSkipped
		}
		p.Steps = append(p.Steps, st)
	}
	p.Steps = append(p.Steps,
		Step{Kind: StepFeedback, Due: o.End.Add(s.FeedbackAfter), State: StatePending},
		Step{Kind: StepNoShows, Due: o.End.Add(s.NoShowsAfter), State: StatePending})
	return p
}

// moved replans p for o's new times. Reminders of an occurrence that
// starts at another time are planned afresh (members are reminded of the
// new time); what has been done stays done otherwise.
func (p OccurrencePlan) moved(o Occurrence, s Settings, now time.Time) OccurrencePlan {
	if p.Start.Equal(o.Start) && p.End.Equal(o.End) {
		return p
	}
	next := planOccurrence(o, s, now)
	for i, st := range next.Steps {
		j := slices.IndexFunc(p.Steps, func(old Step) bool { return old.Kind == st.Kind && old.Before == st.Before })
		if j < 0 || p.Steps[j].State == StatePending {
			continue
		}
		if st.Kind != StepReminder || p.Start.Equal(o.Start) {
			next.Steps[i].State, next.Steps[i].Count = p.Steps[j].State, p.Steps[j].Count
		}
	}
	return next
}

// pending reports whether any step is still to come.
func (p OccurrencePlan) pending() bool {
	return slices.ContainsFunc(p.Steps, func(s Step) bool { return s.State == StatePending })
}

// nextDue is the earliest due time of a pending step, if any.
func (p OccurrencePlan) nextDue() (time.Time, bool) {
	var next time.Time
	found := false
	for _, s := range p.Steps {
		if s.State == StatePending && (!found || s.Due.Before(next)) {
			next, found = s.Due, true
		}
	}
	return next, found
}

// Update is the SignalEventUpdated payload: the event's occurrences after
// a change.
type Update struct {
	// OccurrenceID is set when only that occurrence changed; Occurrences
	// then holds it alone. Otherwise Occurrences are all the event's
	// scheduled occurrences: those missing were cancelled or moved to a
	// new event.
	OccurrenceID string `json:",omitempty"`
	Occurrences  []Occurrence
}

// Cancellation is the SignalEventCancelled payload.
type Cancellation struct {
	// OccurrenceID is set when only that occurrence was cancelled.
	OccurrenceID string `json:",omitempty"`
}

// SeatOffer is the SignalSeatOffered payload: a seat held for a member
// until ExpiresAt.
type SeatOffer struct {
	OccurrenceID string
	MemberID     string
	ExpiresAt    time.Time
}

// applyUpdate replans plans for u.
func applyUpdate(plans []OccurrencePlan, u Update, s Settings, now time.Time) []OccurrencePlan {
	if u.OccurrenceID == "" {
		kept := make([]OccurrencePlan, 0, len(u.Occurrences))
		for _, o := range u.Occurrences {
			if i := indexOf(plans, o.ID); i >= 0 {
				kept = append(kept, plans[i].moved(o, s, now))
			} else {
				kept = append(kept, planOccurrence(o, s, now))
			}
		}
		return sortPlans(kept)
	}
	for _, o := range u.Occurrences {
		if i := indexOf(plans, o.ID); i >= 0 {
			plans[i] = plans[i].moved(o, s, now)
		} else {
			plans = append(plans, planOccurrence(o, s, now))
		}
	}
	return sortPlans(plans)
}

func indexOf(plans []OccurrencePlan, occurrenceID string) int {
	return slices.IndexFunc(plans, func(p OccurrencePlan) bool { return p.ID == occurrenceID })
}

// sortPlans orders plans by start, then id, so the workflow always walks
// them in the same order.
func sortPlans(plans []OccurrencePlan) []OccurrencePlan {
	slices.SortStableFunc(plans, func(a, b OccurrencePlan) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return plans
}
