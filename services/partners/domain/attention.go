package domain

import (
	"errors"
	"time"
)

// AttentionKind is why a partner relationship needs someone.
type AttentionKind string

// Attention kinds.
const (
	// AttentionAgreementExpiring: an agreement ends within the largest
	// expiry threshold.
	AttentionAgreementExpiring AttentionKind = "agreement_expiring"
	// AttentionReviewDue: a partner's next review date has come.
	AttentionReviewDue AttentionKind = "review_due"
)

// Resolutions say why an item closed on its own.
const (
	ResolutionRenewed     = "renewed"     // the agreement's end date moved
	ResolutionEnded       = "ended"       // the agreement expired or was terminated
	ResolutionReviewed    = "reviewed"    // the partner's review date moved on
	ResolutionNoReview    = "unscheduled" // the review date was removed
	ResolutionPartnerGone = "partner_gone"
)

// DefaultEscalateAfter is how long an item waits, after its owner was
// told, for an acknowledgement or a resolution before the organisers are
// told too.
const DefaultEscalateAfter = 3 * 24 * time.Hour

// AttentionItem is one relationship that needs someone.
type AttentionItem struct {
	ID          string
	Community   string
	Kind        AttentionKind
	PartnerID   string
	AgreementID string
	// DueDate is the agreement's end date or the partner's review date.
	DueDate Date
	// OwnerID is the relationship's owner; empty tells the organisers at
	// once.
	OwnerID        string
	RaisedAt       time.Time
	NotifiedAt     time.Time
	AcknowledgedAt time.Time
	AcknowledgedBy string
	EscalatedAt    time.Time
	ResolvedAt     time.Time
	Resolution     string
}

// Open reports whether the item still needs someone.
func (a AttentionItem) Open() bool { return a.ResolvedAt.IsZero() }

// EscalatesAt is when an open, unacknowledged item that was notified is
// escalated; zero when it will not be.
func (a AttentionItem) EscalatesAt(after time.Duration) time.Time {
	if !a.Open() || !a.AcknowledgedAt.IsZero() || !a.EscalatedAt.IsZero() || a.NotifiedAt.IsZero() || a.OwnerID == "" {
		return time.Time{}
	}
	return a.NotifiedAt.Add(after)
}

// CauseKey names what raised the item, so one cause raises one item: an
// agreement with its end date, a partner with its review date.
func (a AttentionItem) CauseKey() string {
	if a.Kind == AttentionAgreementExpiring {
		return "agreement:" + a.AgreementID + ":" + a.DueDate.String()
	}
	return "review:" + a.PartnerID + ":" + a.DueDate.String()
}

// ErrAttentionNotFound means no attention item of the community has the id.
var ErrAttentionNotFound = errors.New("attention item not found")
