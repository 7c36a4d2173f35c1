package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// AgreementKind is what an agreement is about.
type AgreementKind string

// Kinds of agreement.
const (
	AgreementMoU         AgreementKind = "mou"
	AgreementSponsorship AgreementKind = "sponsorship"
	AgreementVenue       AgreementKind = "venue"
	AgreementDataSharing AgreementKind = "data_sharing"
)

// AgreementKinds lists every kind.
func AgreementKinds() []AgreementKind {
	return []AgreementKind{AgreementMoU, AgreementSponsorship, AgreementVenue, AgreementDataSharing}
}

// AgreementStatus is where an agreement is: draft → signed → active →
// expired or terminated.
type AgreementStatus string

// Agreement statuses.
const (
	AgreementDraft      AgreementStatus = "draft"
	AgreementSigned     AgreementStatus = "signed"
	AgreementActive     AgreementStatus = "active"
	AgreementExpired    AgreementStatus = "expired"
	AgreementTerminated AgreementStatus = "terminated"
)

// AgreementStatuses lists every status in lifecycle order.
func AgreementStatuses() []AgreementStatus {
	return []AgreementStatus{AgreementDraft, AgreementSigned, AgreementActive, AgreementExpired, AgreementTerminated}
}

// InForce reports whether an agreement in status s binds the parties (or
// will, once its term begins).
func (s AgreementStatus) InForce() bool { return s == AgreementSigned || s == AgreementActive }

// StateError says why an agreement cannot do what was asked in its
// current status.
type StateError struct{ Reason string }

func (e *StateError) Error() string { return e.Reason }

// IsStateError reports whether err is a StateError.
func IsStateError(err error) bool {
	var se *StateError
	return errors.As(err, &se)
}

func stateErrorf(format string, args ...any) error {
	return &StateError{Reason: fmt.Sprintf(format, args...)}
}

// Agreement is a written arrangement with a partner.
type Agreement struct {
	ID        string
	Community string
	PartnerID string
	Kind      AgreementKind
	Title     string
	Start     Date
	// End is the last day of the term; zero for an open-ended agreement.
	End Date
	// Value is zero when the agreement names none.
	Value             Money
	Status            AgreementStatus
	DocumentURL       string
	SignedOn          Date
	EndedOn           Date
	TerminationReason string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// AgreementInput is what an organiser submits about an agreement.
type AgreementInput struct {
	Kind        AgreementKind
	Title       string
	StartDate   string
	EndDate     string
	Value       Money
	DocumentURL string
}

// Input returns a as an input, for merging an update into.
func (a Agreement) Input() AgreementInput {
	return AgreementInput{Kind: a.Kind, Title: a.Title, StartDate: a.Start.String(), EndDate: a.End.String(), Value: a.Value, DocumentURL: a.DocumentURL}
}

// NewAgreement validates in and returns the draft agreement with
// partnerID it describes.
func NewAgreement(community, partnerID string, in AgreementInput, id string, now time.Time) (Agreement, error) {
	var errs validate.Errors
	if _, ferr := ValidateID("partner_id", partnerID, true); ferr != nil {
		errs = append(errs, ferr)
	}
	a, err := in.apply(Agreement{ID: id, Community: community, PartnerID: partnerID, Status: AgreementDraft})
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return Agreement{}, err
	}
	a.CreatedAt = now.UTC().Truncate(time.Microsecond)
	a.UpdatedAt = a.CreatedAt
	return a, nil
}

func (in AgreementInput) apply(a Agreement) (Agreement, error) {
	var errs validate.Errors
	add := func(ferr *validate.FieldError) {
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	if !slices.Contains(AgreementKinds(), in.Kind) {
		add(validate.Field("kind", "must be mou, sponsorship, venue or data_sharing"))
	}
	a.Kind = in.Kind
	var ferr *validate.FieldError
	a.Title, ferr = validate.Text("title", in.Title, 1, MaxNameLength)
	add(ferr)
	a.Start, ferr = ParseDate("start_date", in.StartDate)
	add(ferr)
	if ferr == nil && a.Start.IsZero() {
		add(validate.Field("start_date", "is required"))
	}
	a.End, ferr = ParseDate("end_date", in.EndDate)
	add(ferr)
	if !a.Start.IsZero() && !a.End.IsZero() && a.End.Before(a.Start) {
		add(validate.Field("end_date", "must not be before start_date"))
	}
	a.Value = Money{}
	switch {
	case in.Value.IsZero() && in.Kind == AgreementSponsorship:
		add(validate.Field("value", "is required for a sponsorship"))
	case !in.Value.IsZero():
		var verrs validate.Errors
		a.Value, verrs = ValidateMoney("value", in.Value, in.Kind == AgreementSponsorship)
		errs = append(errs, verrs...)
	}
	a.DocumentURL, ferr = ValidateURL("document_url", in.DocumentURL)
	add(ferr)
	return a, errs.Err()
}

// AgreementPaths are the update-mask paths of an agreement.
func AgreementPaths() []string {
	return []string{"kind", "title", "start_date", "end_date", "value", "document_url"}
}

// Update returns a with the masked paths of update applied and
// validated. Once signed, only the document link may change.
func (a Agreement) Update(update AgreementInput, paths []string, now time.Time) (Agreement, error) {
	if len(paths) == 0 {
		return a, validate.Field("update_mask", "names no field; give paths such as title or end_date")
	}
	in := a.Input()
	for _, path := range paths {
		if !slices.Contains(AgreementPaths(), path) {
			return a, validate.Field("update_mask", "path %q is not one of %s", path, strings.Join(AgreementPaths(), ", "))
		}
		if a.Status != AgreementDraft && path != "document_url" {
			return a, stateErrorf("the agreement is %s: only drafts change their %s (renew it to extend its term)", a.Status, path)
		}
		switch path {
		case "kind":
			in.Kind = update.Kind
		case "title":
			in.Title = update.Title
		case "start_date":
			in.StartDate = update.StartDate
		case "end_date":
			in.EndDate = update.EndDate
		case "value":
			in.Value = update.Value
		case "document_url":
			in.DocumentURL = update.DocumentURL
		}
	}
	out, err := in.apply(a)
	if err != nil {
		return a, err
	}
	out.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return out, nil
}

// Sign moves a draft to signed on the day signedOn names (today when
// empty), which may not lie after today.
func (a Agreement) Sign(signedOn string, today Date, now time.Time) (Agreement, error) {
	if a.Status != AgreementDraft {
		return a, stateErrorf("the agreement is %s: only drafts can be signed", a.Status)
	}
	day, ferr := ParseDate("signed_on", signedOn)
	if ferr != nil {
		return a, ferr
	}
	if day.IsZero() {
		day = today
	}
	if day.After(today) {
		return a, validate.Field("signed_on", "lies in the future")
	}
	a.Status, a.SignedOn, a.UpdatedAt = AgreementSigned, day, now.UTC().Truncate(time.Microsecond)
	return a, nil
}

// Activate moves a signed agreement to active.
func (a Agreement) Activate(now time.Time) (Agreement, error) {
	if a.Status != AgreementSigned {
		return a, stateErrorf("the agreement is %s: only signed agreements can be activated", a.Status)
	}
	a.Status, a.UpdatedAt = AgreementActive, now.UTC().Truncate(time.Microsecond)
	return a, nil
}

// RenewInput is what an organiser submits to renew an agreement.
type RenewInput struct {
	EndDate     string
	Value       Money
	DocumentURL string
}

// Renewal is one extension of an agreement's term.
type Renewal struct {
	AgreementID   string
	PreviousEnd   Date
	NewEnd        Date
	PreviousValue Money // zero when the renewal kept the value
	RenewedAt     time.Time
	RenewedBy     string
}

// Renew extends a signed or active agreement to a later end date,
// optionally with a new value and document.
func (a Agreement) Renew(in RenewInput, renewedBy string, now time.Time) (Agreement, Renewal, error) {
	if !a.Status.InForce() {
		return a, Renewal{}, stateErrorf("the agreement is %s: only signed or active agreements can be renewed", a.Status)
	}
	if a.End.IsZero() {
		return a, Renewal{}, stateErrorf("the agreement is open-ended and needs no renewal")
	}
	var errs validate.Errors
	end, ferr := ParseDate("end_date", in.EndDate)
	switch {
	case ferr != nil:
		errs = append(errs, ferr)
	case end.IsZero():
		errs = append(errs, validate.Field("end_date", "is required"))
	case !end.After(a.End):
		errs = append(errs, validate.Field("end_date", "must be after the current end date %s", a.End))
	}
	r := Renewal{AgreementID: a.ID, PreviousEnd: a.End, NewEnd: end, RenewedAt: now.UTC().Truncate(time.Microsecond), RenewedBy: renewedBy}
	next := a
	if !in.Value.IsZero() {
		v, verrs := ValidateMoney("value", in.Value, a.Kind == AgreementSponsorship)
		errs = append(errs, verrs...)
		if v != a.Value {
			r.PreviousValue, next.Value = a.Value, v
		}
	}
	if strings.TrimSpace(in.DocumentURL) != "" {
		next.DocumentURL, ferr = ValidateURL("document_url", in.DocumentURL)
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	if err := errs.Err(); err != nil {
		return a, Renewal{}, err
	}
	next.End, next.UpdatedAt = end, r.RenewedAt
	return next, r, nil
}

// Terminate ends a signed or active agreement early, on the day endedOn
// names (today when empty): not in the future, nor before it was signed.
func (a Agreement) Terminate(reason, endedOn string, today Date, now time.Time) (Agreement, error) {
	if !a.Status.InForce() {
		return a, stateErrorf("the agreement is %s: only signed or active agreements can be terminated", a.Status)
	}
	var errs validate.Errors
	why, ferr := validate.Text("reason", reason, 1, 500)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	day, ferr := ParseDate("ended_on", endedOn)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if day.IsZero() {
		day = today
	}
	switch {
	case ferr != nil:
	case day.After(today):
		errs = append(errs, validate.Field("ended_on", "lies in the future"))
	case day.Before(a.SignedOn):
		errs = append(errs, validate.Field("ended_on", "must not be before the agreement was signed (%s)", a.SignedOn))
	}
	if err := errs.Err(); err != nil {
		return a, err
	}
	a.Status, a.EndedOn, a.TerminationReason, a.UpdatedAt = AgreementTerminated, day, why, now.UTC().Truncate(time.Microsecond)
	return a, nil
}

// DefaultExpiryThresholds are the days before an agreement's end at which
// AgreementExpiring is published.
func DefaultExpiryThresholds() []int { return []int{30, 7} }

// MaxThresholdDays bounds an expiry threshold.
const MaxThresholdDays = 366

// SweepPlan is what the daily sweep does to one agreement.
type SweepPlan struct {
	// Activate: a signed agreement whose term began.
	Activate bool
	// Expire: an agreement whose last day has passed.
	Expire bool
	// Announce are the thresholds (days) the end date lies within.
	Announce []int
	// DaysLeft is the days from today to the end date.
	DaysLeft int
}

// Empty reports whether the plan does nothing.
func (p SweepPlan) Empty() bool { return !p.Activate && !p.Expire && len(p.Announce) == 0 }

// PlanSweep decides what the sweep of day today does to a: an agreement in
// force whose end date has passed expires; a signed one whose start date
// has come becomes active; one whose end date lies within a threshold is
// announced for that threshold. Which thresholds were announced before is
// the store's business.
func PlanSweep(a Agreement, today Date, thresholds []int) SweepPlan {
	var p SweepPlan
	if !a.Status.InForce() {
		return p
	}
	if !a.End.IsZero() && a.End.Before(today) {
		p.Expire = true
		return p
	}
	p.Activate = a.Status == AgreementSigned && !a.Start.After(today)
	if a.End.IsZero() {
		return p
	}
	p.DaysLeft = today.DaysUntil(a.End)
	for _, t := range thresholds {
		if p.DaysLeft <= t {
			p.Announce = append(p.Announce, t)
		}
	}
	return p
}

// Expire marks a as expired on its end date.
func (a Agreement) Expire(now time.Time) Agreement {
	a.Status, a.EndedOn, a.UpdatedAt = AgreementExpired, a.End, now.UTC().Truncate(time.Microsecond)
	return a
}

// ValidateThresholds checks expiry thresholds: 1 to 366 days, no
// repeats; they come back sorted, largest first.
func ValidateThresholds(days []int) ([]int, error) {
	out := slices.Clone(days)
	slices.Sort(out)
	slices.Reverse(out)
	for i, d := range out {
		if d < 1 || d > MaxThresholdDays {
			return nil, fmt.Errorf("expiry threshold %d days is outside 1 to %d", d, MaxThresholdDays)
		}
		if i > 0 && out[i-1] == d {
			return nil, fmt.Errorf("expiry threshold %d days is given twice", d)
		}
	}
	return out, nil
}
