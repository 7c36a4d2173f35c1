package domain

import (
	"slices"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Consent purposes.
const (
	PurposeTransactional   = "email.transactional"
	PurposeAnnouncements   = "email.announcements"
	PurposeDigest          = "email.digest"
	PurposeAnalytics       = "analytics"
	PurposeVisibleProfiles = "profile.visible_to_members"
)

// Purposes lists every consent purpose; transactional e-mail is implied
// by membership and cannot be withdrawn.
func Purposes() []string {
	return []string{PurposeTransactional, PurposeAnnouncements, PurposeDigest, PurposeAnalytics, PurposeVisibleProfiles}
}

// ConsentRecord is one grant or withdrawal in the ledger.
type ConsentRecord struct {
	MemberID      string
	Purpose       string
	Granted       bool
	OccurredAt    time.Time
	Source        string
	PolicyVersion string
}

// NewConsentRecord validates a grant or withdrawal.
func NewConsentRecord(memberID, purpose string, granted bool, source, policyVersion string, now time.Time) (ConsentRecord, error) {
	var errs validate.Errors
	switch {
	case purpose == PurposeTransactional:
		errs = append(errs, validate.Field("purpose", "email.transactional is implied by membership and cannot change"))
	case !slices.Contains(Purposes(), purpose):
		errs = append(errs, validate.Field("purpose", "must be one of email.announcements, email.digest, analytics, profile.visible_to_members"))
	}
	src, ferr := validate.Text("source", source, 1, 100)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	version, ferr := validate.Text("policy_version", policyVersion, 1, 50)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return ConsentRecord{}, err
	}
	return ConsentRecord{MemberID: memberID, Purpose: purpose, Granted: granted, OccurredAt: now.UTC().Truncate(time.Microsecond),
		Source: src, PolicyVersion: version}, nil
}

// ConsentState is the current consent for one purpose.
type ConsentState struct {
	Purpose   string
	Granted   bool
	ChangedAt time.Time
}

// CurrentConsents derives the current consent per purpose from a ledger in
// time order: the last record wins; without one a purpose is not granted,
// except transactional e-mail.
func CurrentConsents(ledger []ConsentRecord) []ConsentState {
	current := map[string]ConsentState{PurposeTransactional: {Purpose: PurposeTransactional, Granted: true}}
	for _, r := range ledger {
		current[r.Purpose] = ConsentState{Purpose: r.Purpose, Granted: r.Granted, ChangedAt: r.OccurredAt}
	}
	out := make([]ConsentState, 0, len(Purposes()))
	for _, p := range Purposes() {
		st, ok := current[p]
		if !ok {
			st = ConsentState{Purpose: p}
		}
		out = append(out, st)
	}
	return out
}
