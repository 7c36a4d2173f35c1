package domain

import "time"

// Outcomes of a nomination to the ambassador programme, as the journeys
// API gives them (the nomination_outcomes breakdown).
const (
	NominationApproved   = "approved"
	NominationRejected   = "rejected"
	NominationExpired    = "expired"
	NominationWithdrawn  = "withdrawn"
	NominationIneligible = "ineligible"
	NominationEnded      = "ended"
)

// Nomination is one nomination to the ambassador programme, keyed by the
// id the journeys API gives it. It counts on the day it was made, and its
// outcome on the day it was decided; Outcome is empty while pending.
type Nomination struct {
	ID, MemberID string
	NominatedAt  time.Time
	Outcome      string
	DecidedAt    time.Time
}

// Contributions count the nomination and its outcome.
func (n Nomination) Contributions(loc *time.Location) Deltas {
	out := Deltas{}
	if n.NominatedAt.IsZero() {
		return out
	}
	out.Add(BucketNominations, "", DayOf(n.NominatedAt, loc), 1)
	if n.Outcome != "" && !n.DecidedAt.IsZero() {
		out.Add(BucketNominationOutcomes, n.Outcome, DayOf(n.DecidedAt, loc), 1)
	}
	return out
}
