package domain

import (
	"slices"
	"time"
)

// Partner stages, as the partners service names its pipeline.
const (
	StageProspect       = "prospect"
	StageInConversation = "in_conversation"
	StageActive         = "active"
	StageLapsed         = "lapsed"
)

// Move is one step of a partner along the pipeline.
type Move struct {
	At    time.Time
	Stage string
}

// Partner is a partner organisation and its moves, keyed by its id.
type Partner struct {
	ID      string
	AddedAt time.Time
	Moves   []Move
}

// AddMove records a move; it reports whether it was new.
func (p *Partner) AddMove(mv Move) bool {
	for _, m := range p.Moves {
		if m.At.Equal(mv.At) && m.Stage == mv.Stage {
			return false
		}
	}
	p.Moves = append(p.Moves, mv)
	slices.SortStableFunc(p.Moves, func(a, b Move) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return cmpString(a.Stage, b.Stage)
	})
	return true
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Contributions are the partner's stage over time: a prospect from its
// addition, then each move.
func (p Partner) Contributions(loc *time.Location) Deltas {
	out := Deltas{}
	type step struct {
		day   Day
		stage string
	}
	var steps []step
	if !p.AddedAt.IsZero() {
		steps = append(steps, step{DayOf(p.AddedAt, loc), StageProspect})
	}
	for _, m := range p.Moves {
		steps = append(steps, step{DayOf(m.At, loc), m.Stage})
	}
	slices.SortStableFunc(steps, func(a, b step) int { return int(a.day - b.day) })
	for i, s := range steps {
		to := NoDay
		if i+1 < len(steps) {
			to = steps[i+1].day
		}
		out.interval(BucketPartnersByStage, s.stage, s.day, to, 1)
	}
	return out
}

// Agreement is a signed agreement, keyed by its id. Days are the
// agreement's own dates.
type Agreement struct {
	ID, PartnerID string
	Start         Day
	// End is the last day; HasEnd is false for an open-ended agreement.
	End      Day
	HasEnd   bool
	SignedOn Day
	Signed   bool
	// EndedOn is the last day it counted, when it expired or was
	// terminated.
	EndedOn Day
	Ended   bool
	// Version dates the dates, so an older renewal never wins.
	Version time.Time
}

// ExpiryWindows are the days ahead "expiring" looks, with their buckets.
var ExpiryWindows = []struct {
	Days   Day
	Bucket string
}{{30, BucketExpiring30}, {60, BucketExpiring60}, {90, BucketExpiring90}}

// Contributions count the agreement, on every day from its signing to its
// end, as expiring within each window that reaches its last day.
func (a Agreement) Contributions() Deltas {
	out := Deltas{}
	if !a.Signed || !a.HasEnd {
		return out
	}
	last := a.End
	if a.Ended && a.EndedOn < last {
		last = a.EndedOn
	}
	for _, w := range ExpiryWindows {
		from := max(a.SignedOn, a.End-w.Days)
		out.interval(w.Bucket, "", from, last+1, 1)
	}
	return out
}

// Contribution kinds, as the partners service names them.
const (
	ContributionMoney     = "money"
	ContributionInKind    = "in_kind"
	ContributionVenue     = "venue"
	ContributionVolunteer = "volunteer_hours"
)

// Contribution is what a partner gave, keyed by its id.
type Contribution struct {
	ID, PartnerID    string
	Kind             string
	Day              Day
	Currency         string
	AmountMinor      int64
	VolunteerMinutes int64
}

// Contributions count it on its day.
func (c Contribution) Contributions() Deltas {
	out := Deltas{}
	out.Add(BucketContributions, "", c.Day, 1)
	switch {
	case c.Kind == ContributionMoney && c.Currency != "":
		out.Add(BucketMoney, c.Currency, c.Day, c.AmountMinor)
	case (c.Kind == ContributionInKind || c.Kind == ContributionVenue) && c.Currency != "":
		out.Add(BucketInKind, c.Currency, c.Day, c.AmountMinor)
	}
	out.Add(BucketVolunteerMinutes, "", c.Day, c.VolunteerMinutes)
	return out
}

// RoleChange is one assignment or taking back of a role, keyed by its
// time and kind.
type RoleChange struct {
	At       time.Time
	Assigned bool
	Tier     string
}

// Role is a role of a member's register, keyed by member and role, with
// the changes known of it. AssignedAt, RevokedAt and Tier are derived
// from them (Derive): the latest run of holding the role, whatever order
// the changes arrived in.
type Role struct {
	MemberID, Role string
	Changes        []RoleChange
	Tier           string
	// AssignedAt starts the latest run; RevokedAt ends it when later.
	AssignedAt, RevokedAt time.Time
}

// Add records a change and derives the run again; it reports whether the
// change was new.
func (r *Role) Add(c RoleChange) bool {
	for _, k := range r.Changes {
		if k.At.Equal(c.At) && k.Assigned == c.Assigned && k.Tier == c.Tier {
			return false
		}
	}
	r.Changes = append(r.Changes, c)
	r.Derive()
	return true
}

// Derive replays the changes in time order (a revocation before an
// assignment at the same instant): a run starts with an assignment while
// the role is not held and ends with a revocation; a later assignment
// while held only changes the tier.
func (r *Role) Derive() {
	slices.SortStableFunc(r.Changes, func(a, b RoleChange) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		switch {
		case a.Assigned == b.Assigned:
			return cmpString(a.Tier, b.Tier)
		case !a.Assigned:
			return -1
		}
		return 1
	})
	r.Tier, r.AssignedAt, r.RevokedAt = "", time.Time{}, time.Time{}
	holding := false
	for _, c := range r.Changes {
		switch {
		case c.Assigned && !holding:
			holding, r.AssignedAt, r.Tier = true, c.At, c.Tier
		case c.Assigned:
			r.Tier = c.Tier
		case holding:
			holding, r.RevokedAt = false, c.At
		}
	}
}

// Roles of the members service's register.
const (
	RoleAmbassador = "ambassador"
	RoleOrganiser  = "organiser"
)

// Holds reports whether the role is held now.
func (r Role) Holds() bool { return !r.AssignedAt.IsZero() && r.RevokedAt.Before(r.AssignedAt) }

// TierName is the tier as a breakdown value.
func (r Role) TierName() string {
	if r.Tier == "" {
		return "none"
	}
	return r.Tier
}

// Contributions count an ambassador in their tier while they hold the
// role.
func (r Role) Contributions(loc *time.Location) Deltas {
	out := Deltas{}
	if r.Role != RoleAmbassador || r.AssignedAt.IsZero() {
		return out
	}
	to := NoDay
	if !r.Holds() {
		to = DayOf(r.RevokedAt, loc)
	}
	out.interval(BucketAmbassadors, r.TierName(), DayOf(r.AssignedAt, loc), to, 1)
	return out
}
