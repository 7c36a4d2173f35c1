package ambassador

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/internal/flow"
)

// Duration is a time.Duration written as "48h" in JSON.
type Duration = flow.Duration

// Programme is a community's ambassador programme: who may be nominated,
// how nominations are reviewed, the training, and what active ambassadors
// are asked to do. It is data, in the worker's journeys file; a candidate
// keeps the programme they were nominated under until their next renewal.
type Programme struct {
	Criteria Criteria `json:"criteria"`
	// Reviewers are the members (organisers) who review nominations; empty
	// lets any organiser review.
	Reviewers []string `json:"reviewers,omitempty"`
	// Approvals is how many approvals a nomination needs; one rejection
	// declines it.
	Approvals int `json:"approvals,omitempty"`
	// EscalateAfter is how long a nomination waits for its reviewers before
	// EscalateTo are asked too; it expires ExpireAfter after nomination.
	EscalateAfter Duration `json:"escalate_after,omitempty"`
	EscalateTo    []string `json:"escalate_to,omitempty"`
	ExpireAfter   Duration `json:"expire_after,omitempty"`
	// Training are the tasks a candidate completes before activation.
	Training []Task `json:"training,omitempty"`
	// RemindBefore is how long before a task's deadline its reminder goes
	// out; TrainingGrace how long after the last deadline training expires.
	RemindBefore  Duration `json:"remind_before,omitempty"`
	TrainingGrace Duration `json:"training_grace,omitempty"`
	// Tiers ascend; a new ambassador starts at the first. Capacity is how
	// many members each tier buddies at once.
	Tiers    []string `json:"tiers,omitempty"`
	Capacity []int    `json:"capacity,omitempty"`
	// CheckInEvery is the active cycle's rhythm; every ReviewEvery
	// check-ins the quotas decide a promotion or demotion; a cycle lasts
	// CheckIns check-ins and is renewed by continuing as new.
	CheckInEvery Duration `json:"check_in_every,omitempty"`
	ReviewEvery  int      `json:"review_every,omitempty"`
	CheckIns     int      `json:"check_ins,omitempty"`
	// Quotas are what an ambassador does per review period, counted from
	// their activity ledger.
	Quotas []Quota `json:"quotas,omitempty"`
	// AnnouncementTemplate is the communications template announcing a new
	// ambassador to the community; without it, no announcement is made.
	AnnouncementTemplate string `json:"announcement_template,omitempty"`
}

// Criteria decide who may be nominated.
type Criteria struct {
	// MinLevel is the lowest engagement level a candidate may have.
	MinLevel string `json:"min_level,omitempty"`
	// MinActivities within ActiveWithin are needed.
	MinActivities int      `json:"min_activities,omitempty"`
	ActiveWithin  Duration `json:"active_within,omitempty"`
}

// Task is one training task.
type Task struct {
	Name string `json:"name"`
	// Due is how long after training starts the task is due.
	Due Duration `json:"due"`
}

// Quota is a number of activities of a type per review period, such as
// one hosted_event a quarter.
type Quota struct {
	Activity string `json:"activity"`
	Count    int    `json:"count"`
}

const day = 24 * time.Hour

// MaxCounted bounds activity counts in criteria and quotas: the members
// service reports a member's last 20 activities.
const MaxCounted = 20

// DefaultProgramme is the programme of a community that defines none.
func DefaultProgramme() Programme {
	return Programme{
		Criteria:      Criteria{MinLevel: "Participant", MinActivities: 1, ActiveWithin: Duration(30 * day)},
		Approvals:     1,
		EscalateAfter: Duration(7 * day),
		ExpireAfter:   Duration(21 * day),
		Training: []Task{
			{Name: "code-of-conduct", Due: Duration(7 * day)},
			{Name: "ambassador-handbook", Due: Duration(14 * day)},
			{Name: "host-an-event-training", Due: Duration(21 * day)},
		},
		RemindBefore:  Duration(2 * day),
		TrainingGrace: Duration(7 * day),
		Tiers:         []string{"bronze", "silver", "gold"},
		Capacity:      []int{3, 5, 8},
		CheckInEvery:  Duration(30 * day),
		ReviewEvery:   3,
		CheckIns:      12,
		Quotas:        []Quota{{Activity: "hosted_event", Count: 1}, {Activity: "referred_member", Count: 1}},
	}
}

// Validate reports every problem of p, naming the field.
func (p Programme) Validate() error {
	var errs validate.Errors
	c := p.Criteria
	if _, ferr := validate.Text("criteria.min_level", c.MinLevel, 0, 50); ferr != nil {
		errs = append(errs, ferr)
	}
	if c.MinActivities < 0 || c.MinActivities > MaxCounted {
		errs = append(errs, validate.Field("criteria.min_activities", "must be between 0 and %d", MaxCounted))
	}
	if c.MinActivities > 0 && c.ActiveWithin <= 0 {
		errs = append(errs, validate.Field("criteria.active_within", "must be positive when min_activities is set"))
	}
	for i, id := range append(slices.Clone(p.Reviewers), p.EscalateTo...) {
		if id == "" || len(id) > 64 {
			errs = append(errs, validate.Field("reviewers", "member id %d is empty or too long", i))
		}
	}
	if p.Approvals < 1 || p.Approvals > 10 {
		errs = append(errs, validate.Field("approvals", "must be between 1 and 10"))
	}
	if len(p.Reviewers) > 0 && p.Approvals > len(p.Reviewers)+len(p.EscalateTo) {
		errs = append(errs, validate.Field("approvals", "needs more approvals than there are reviewers"))
	}
	if p.EscalateAfter <= 0 || p.ExpireAfter <= p.EscalateAfter {
		errs = append(errs, validate.Field("expire_after", "must come after escalate_after, which must be positive"))
	}
	seen := map[string]bool{}
	for i, t := range p.Training {
		if _, ferr := validate.Slug(fmt.Sprintf("training[%d].name", i), t.Name, 63); ferr != nil {
			errs = append(errs, ferr)
		}
		if seen[t.Name] {
			errs = append(errs, validate.Field(fmt.Sprintf("training[%d].name", i), "%s appears twice", t.Name))
		}
		seen[t.Name] = true
		if t.Due <= 0 {
			errs = append(errs, validate.Field(fmt.Sprintf("training[%d].due", i), "must be positive"))
		}
	}
	if len(p.Training) > 20 {
		errs = append(errs, validate.Field("training", "must hold at most 20 tasks"))
	}
	if p.RemindBefore < 0 || p.TrainingGrace < 0 {
		errs = append(errs, validate.Field("remind_before", "remind_before and training_grace must not be negative"))
	}
	if len(p.Tiers) == 0 || len(p.Tiers) > 10 {
		errs = append(errs, validate.Field("tiers", "must name 1 to 10 tiers"))
	}
	for i, tier := range p.Tiers {
		if _, ferr := validate.Slug(fmt.Sprintf("tiers[%d]", i), tier, 30); ferr != nil {
			errs = append(errs, ferr)
		}
	}
	if len(p.Capacity) != len(p.Tiers) {
		errs = append(errs, validate.Field("capacity", "must give one capacity per tier"))
	}
	for i, c := range p.Capacity {
		if c < 0 || c > 100 {
			errs = append(errs, validate.Field(fmt.Sprintf("capacity[%d]", i), "must be between 0 and 100"))
		}
	}
	if p.CheckInEvery <= 0 {
		errs = append(errs, validate.Field("check_in_every", "must be positive"))
	}
	if p.ReviewEvery < 1 || p.CheckIns < p.ReviewEvery || p.CheckIns > 366 {
		errs = append(errs, validate.Field("check_ins", "must be at least review_every (at least 1) and at most 366"))
	}
	for i, q := range p.Quotas {
		if !activityType.MatchString(q.Activity) || len(q.Activity) > 40 {
			errs = append(errs, validate.Field(fmt.Sprintf("quotas[%d].activity", i), "must be an activity type such as hosted_event"))
		}
		if q.Count < 1 || q.Count > MaxCounted {
			errs = append(errs, validate.Field(fmt.Sprintf("quotas[%d].count", i), "must be between 1 and %d", MaxCounted))
		}
	}
	if p.AnnouncementTemplate != "" {
		if _, ferr := validate.Slug("announcement_template", p.AnnouncementTemplate, 63); ferr != nil {
			errs = append(errs, ferr)
		}
	}
	return errs.Err()
}

// activityType is the form of activity types, as the members service
// has it.
var activityType = regexp.MustCompile(`^[a-z0-9]+([_-][a-z0-9]+)*$`)

// capacityOf is how many buddies an ambassador of tier takes.
func (p Programme) capacityOf(tier string) int {
	if i := slices.Index(p.Tiers, tier); i >= 0 && i < len(p.Capacity) {
		return p.Capacity[i]
	}
	return 0
}
