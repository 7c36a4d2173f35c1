package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/csvout"
	"github.com/kinshiphq/kinship/internal/validate"
)

// MaxBulkActivities bounds RecordActivities; an import may hold up to
// MaxImportRows.
const MaxBulkActivities = 1000

// ActivityInput is one activity an organiser records in bulk, before it is
// checked: who (a member id, a verified address, or a linked handle),
// what, when, and its idempotency key.
type ActivityInput struct {
	MemberID, Email, Provider, Handle string
	Type                              string
	OccurredAt                        time.Time
	SourceEventID                     string
	Properties                        map[string]string
}

// ErrNobody means an activity names nobody it could be about.
var ErrNobody = errors.New("the activity names nobody")

// NewIncoming checks in against the community's settings: exactly one
// identity, a type the community records, a time at most a day ahead, a
// source event id and valid properties. Every problem is reported.
func NewIncoming(in ActivityInput, s Settings, now time.Time) (Activity, Identity, error) {
	var errs validate.Errors
	who := Identity{MemberID: strings.TrimSpace(in.MemberID)}
	ways := 0
	if who.MemberID != "" {
		ways++
		if len(who.MemberID) > 64 {
			errs = append(errs, validate.Field("member_id", "is not a member id"))
		}
	}
	if in.Email != "" {
		ways++
		email, ferr := validate.Email("email", in.Email)
		if ferr != nil {
			errs = append(errs, ferr)
		}
		who.Email = email
	}
	if in.Provider != "" || in.Handle != "" {
		ways++
		provider, handle, err := ValidateHandle(in.Provider, in.Handle)
		errs = append(errs, validate.FieldErrors(err)...)
		who.Provider, who.Handle = provider, handle
	}
	switch {
	case ways == 0:
		errs = append(errs, validate.Field("member_id", "one of member_id, email or provider and handle is required"))
	case ways > 1:
		errs = append(errs, validate.Field("member_id", "name the member one way only: member_id, email, or provider and handle"))
	}
	if !s.Counts(in.Type, "") {
		errs = append(errs, validate.Field("type", "is not an activity type of the community"))
	}
	switch {
	case in.OccurredAt.IsZero():
		errs = append(errs, validate.Field("occurred_at", "is required"))
	case in.OccurredAt.After(now.Add(24 * time.Hour)):
		errs = append(errs, validate.Field("occurred_at", "lies in the future"))
	}
	if _, ferr := validate.Text("source_event_id", in.SourceEventID, 1, 200); ferr != nil {
		errs = append(errs, ferr)
	}
	props, ferr := ValidateProperties("properties", in.Properties)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return Activity{}, Identity{}, err
	}
	return Activity{Community: s.Community, Type: in.Type, OccurredAt: in.OccurredAt.UTC().Truncate(time.Microsecond),
		SourceEventID: in.SourceEventID, Properties: props}, who, nil
}

// Columns of an activities CSV: any other column becomes a property.
var activityColumns = []string{"member_id", "email", "provider", "handle", "type", "occurred_at", "source_event_id"}

// ActivityHeader maps the columns of an activities CSV to positions.
type ActivityHeader struct {
	cols  map[string]int
	props map[string]int
}

// ParseActivityHeader checks an activities CSV's header: type,
// occurred_at and source_event_id, and member_id, email or provider and
// handle; other columns must be property keys.
func ParseActivityHeader(rec []string) (ActivityHeader, error) {
	h := ActivityHeader{cols: map[string]int{}, props: map[string]int{}}
	for i, raw := range rec {
		name := strings.ToLower(strings.TrimSpace(csvout.Restore(raw)))
		if _, dup := h.cols[name]; dup {
			return h, fmt.Errorf("column %q appears twice", name)
		}
		if _, dup := h.props[name]; dup {
			return h, fmt.Errorf("column %q appears twice", name)
		}
		if slices.Contains(activityColumns, name) {
			h.cols[name] = i
			continue
		}
		if !propertyKey.MatchString(name) {
			return h, fmt.Errorf("column %q is neither a known column (%s) nor a property name", name, strings.Join(activityColumns, ", "))
		}
		h.props[name] = i
	}
	for _, required := range []string{"type", "occurred_at", "source_event_id"} {
		if _, ok := h.cols[required]; !ok {
			return h, fmt.Errorf("column %q is required", required)
		}
	}
	_, byID := h.cols["member_id"]
	_, byEmail := h.cols["email"]
	_, byHandle := h.cols["handle"]
	if !byID && !byEmail && !byHandle {
		return h, errors.New("a member_id, email or handle column is required")
	}
	if _, ok := h.cols["provider"]; byHandle && !ok {
		return h, errors.New("a handle column needs a provider column")
	}
	return h, nil
}

// Row reads one record; cells a spreadsheet export neutralised are
// restored, as imports of members do.
func (h ActivityHeader) Row(line int64, rec []string) (ActivityInput, []RowError) {
	cell := func(name string) string {
		i, ok := h.cols[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(csvout.Restore(rec[i]))
	}
	in := ActivityInput{MemberID: cell("member_id"), Email: cell("email"), Provider: cell("provider"), Handle: cell("handle"),
		Type: cell("type"), SourceEventID: cell("source_event_id")}
	if raw := cell("occurred_at"); raw != "" {
		at, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return in, []RowError{{Line: line, Field: "occurred_at", Reason: "is not an RFC 3339 time such as 2026-03-01T18:00:00Z"}}
		}
		in.OccurredAt = at
	}
	for name, i := range h.props {
		if i < len(rec) {
			if v := strings.TrimSpace(csvout.Restore(rec[i])); v != "" {
				if in.Properties == nil {
					in.Properties = map[string]string{}
				}
				in.Properties[name] = v
			}
		}
	}
	return in, nil
}
