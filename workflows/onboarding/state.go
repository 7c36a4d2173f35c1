package onboarding

import "time"

// Statuses of a journey, as the state query reports them.
const (
	StatusRunning   = "running"
	StatusPaused    = "paused"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
)

// StepDone is the step of a journey that has ended.
const StepDone = "done"

// Outcomes of a journey.
const (
	// OutcomeOnboarded: every step ran; the onboarded activity is recorded.
	OutcomeOnboarded = "onboarded"
	// OutcomeLapsed: the member never attended within the wait.
	OutcomeLapsed = "lapsed"
	// OutcomeMemberGone: the member is no longer in the community.
	OutcomeMemberGone = "member-gone"
	// OutcomeUnconfirmed: the member joined publicly and never confirmed
	// their address within ConfirmationWait; nothing was sent.
	OutcomeUnconfirmed = "unconfirmed"
)

// StepConfirmEmail is the step of a journey waiting for the member to
// confirm their address. It comes before every step of the definition and
// cannot be skipped: no e-mail goes to an unconfirmed address.
const StepConfirmEmail = "confirm-email"

// Outcomes of a step, in its history entry.
const (
	StepCompleted = "completed"
	StepSkipped   = "skipped"
	StepTimedOut  = "timed-out"
	StepNone      = "none" // nothing to suggest, no buddy free
)

// State is what the state query returns.
type State struct {
	// Version is 1 for journeys of the first, fixed shape, 2 for journeys
	// run from a Definition and 3 for journeys run from a versioned Graph.
	Version int
	Status  string
	// Step is the current step's type (its id in a Graph), or StepDone.
	Step string
	// StepIndex is the current step's position in Steps.
	StepIndex int
	// Steps are the types of the journey's steps, in order.
	Steps  []string
	Paused bool
	// NextDeadline is when the journey next acts on its own; zero when it
	// only waits for a signal or is paused.
	NextDeadline time.Time
	History      []Entry
	Outcome      string

	ProfileCompleted bool
	// EmailConfirmed: the member's address is confirmed (or was vouched
	// for when they were added).
	EmailConfirmed    bool
	Attended          bool
	SuggestedEventIDs []string
	BuddyID           string

	// Kept from the first version's state.
	WelcomeSent  bool
	ReminderSent bool

	// Of versioned journeys (Version 3): the definition version, the
	// tags its steps added, whether the member answered an invitation,
	// whether it is a test run, and how many steps it ran.
	DefinitionVersion int      `json:",omitempty"`
	Tags              []string `json:",omitempty"`
	RSVPed            bool     `json:",omitempty"`
	Test              bool     `json:",omitempty"`
	Transitions       int      `json:",omitempty"`
}

// Entry is one thing that happened in a journey. Detail holds ids only.
type Entry struct {
	At     time.Time
	Step   string
	Event  string
	Detail string
}

// Events of a journey's history.
const (
	EventStarted      = "started"
	EventEnded        = "ended"
	EventReminderSent = "reminder-sent"
	EventPaused       = "paused"
	EventResumed      = "resumed"
	EventSkipQueued   = "skip-requested"
	EventCheckedIn    = "checked-in"
	EventProfileDone  = "profile-completed"
	EventConfirmed    = "email-confirmed"
	EventNote         = "note"
	// Of versioned journeys.
	EventRSVPed          = "rsvped"
	EventRestartQueued   = "restart-requested"
	EventRestarted       = "restarted"
	EventMigrationQueued = "migration-requested"
	EventMigrated        = "migrated"
)

// maxHistory bounds a journey's history; the oldest entries go first.
const maxHistory = 200
