package ambassador

import "time"

// Stages of a candidacy.
const (
	StageEligibility = "eligibility"
	StageReview      = "review"
	StageTraining    = "training"
	StageActivating  = "activating"
	StageActive      = "active"
	StageOffboarding = "offboarding"
	StageEnded       = "ended"
)

// Outcomes of a candidacy.
const (
	OutcomeIneligible      = "ineligible"
	OutcomeDeclined        = "declined"
	OutcomeReviewExpired   = "review-expired"
	OutcomeTrainingExpired = "training-expired"
	OutcomeWithdrawn       = "withdrawn"
	OutcomeOffboarded      = "offboarded"
	OutcomeNotRenewed      = "not-renewed"
	OutcomeMemberGone      = "member-gone"
	OutcomeCancelled       = "cancelled"
)

// Who nominated a candidate (Nomination.Kind).
const (
	NominatedByOrganiser = "organiser"
	NominatedByPeer      = "peer"
	NominatedBySelf      = "self"
)

// State is what the state query returns, and the roster shows.
type State struct {
	MemberID   string
	Stage      string
	Outcome    string
	Nomination Nomination
	// Eligibility is the check made at nomination.
	Eligibility Eligibility
	Reviewers   []string
	Reviews     []Review
	Escalated   bool
	Tasks       []TaskState
	Tier        string
	// Cycle counts yearly renewals, from 0.
	Cycle       int
	ActivatedAt time.Time
	Buddies     []string
	Capacity    int
	// CheckIns is how many check-ins this cycle had.
	CheckIns    int
	LastCheckIn time.Time
	Quotas      []QuotaProgress
	// FailedReviews counts this cycle's reviews that missed the quotas.
	FailedReviews int
	NextDeadline  time.Time
	History       []Entry
	// ProgrammeVersion is the programme version this cycle runs.
	ProgrammeVersion int `json:",omitempty"`
	// TasksRecorded are the training tasks recorded as completed_task
	// activities in the member's ledger.
	TasksRecorded []string `json:",omitempty"`
}

// Review is one reviewer's decision (SignalReview).
type Review struct {
	ReviewerID string
	Approve    bool
	// Override lets a platform admin decide without being a reviewer.
	Override bool
	At       time.Time
}

// TaskDone is what SignalTaskCompleted carries.
type TaskDone struct {
	Task string
}

// TaskState is a training task's progress.
type TaskState struct {
	Name     string
	Due      time.Time
	Done     bool
	DoneAt   time.Time
	Reminded bool
	Overdue  bool
}

// QuotaProgress is a quota and what the ambassador did of it this period.
type QuotaProgress struct {
	Activity string
	Target   int
	Count    int
}

// ActivityCounted is what SignalActivityRecorded carries: an activity of
// the member's ledger, which counts towards the quotas of the period it
// happened in.
type ActivityCounted struct {
	ID         string
	Type       string
	OccurredAt time.Time
}

// BuddyRequest names the member a buddy place is for.
type BuddyRequest struct {
	MemberID string
}

// Entry is one thing that happened in a candidacy. Detail holds ids only.
type Entry struct {
	At     time.Time
	Stage  string
	Event  string
	Detail string
}

const maxHistory = 300
