package erasure

import "time"

// Stores that hold data about members, in the order a receipt lists them.
const (
	StoreMembers        = "members"
	StoreCommunications = "communications"
	StoreEvents         = "events"
	StorePartners       = "partners"
)

// Receipt says where a member's data was erased and when: ids, store
// names, times and counts, never personal data. The workflow returns it
// and QueryReceipt reads it while the erasure runs.
type Receipt struct {
	Community string
	MemberID  string
	// Stores lists every store, the members service first (it erased the
	// member before the workflow started).
	Stores []StoreReceipt
	// Workflows are the member's other workflows and what became of them.
	Workflows []WorkflowOutcome
	// CompletedAt is when the last store confirmed; zero while any is
	// pending.
	CompletedAt time.Time
}

// StoreReceipt is one store's part of an erasure.
type StoreReceipt struct {
	Store string
	// ConfirmedAt is when the store committed the erasure; zero while
	// pending.
	ConfirmedAt time.Time
	// Erased counts what the store removed, such as "rsvps_withdrawn".
	Erased []Count
	// Refused names the error type of the store's last refusal while it is
	// pending, such as "PermissionDenied"; retried after a while.
	Refused string
	// Refusals counts the store's refusals so far.
	Refusals int
}

// Count is how many of one kind of record a store erased.
type Count struct {
	What string
	N    int64
}

// Outcomes of cancelling a member's other workflow.
const (
	OutcomeCancelRequested = "cancel-requested"
	OutcomeNotRunning      = "not-running"
	// OutcomeCancelFailed: the request could not be made; the workflow
	// still stops on its own when it next finds the member gone.
	OutcomeCancelFailed = "cancel-failed"
)

// WorkflowOutcome is what became of one of the member's other workflows.
type WorkflowOutcome struct {
	WorkflowID string
	Outcome    string
}

// Confirmed reports whether every store has confirmed.
func (r Receipt) Confirmed() bool {
	for _, s := range r.Stores {
		if s.ConfirmedAt.IsZero() {
			return false
		}
	}
	return len(r.Stores) > 0
}
