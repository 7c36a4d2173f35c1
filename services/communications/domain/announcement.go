package domain

import (
	"errors"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Announcement sends a template to a segment of the recipients projection.
type Announcement struct {
	ID             string
	Community      string
	Template       string
	Kind           Kind
	Filter         Filter
	SendAt         time.Time
	Webhooks       bool
	Vars           map[string]string
	IdempotencyKey string
	CreatedAt      time.Time
	CreatedBy      string
	Cancelled      bool
	// Counts by message status.
	Counts map[Status]int64
	// Members is how many members the segment selected when the
	// announcement was accepted; MembersQueued how many of them have a
	// message so far (the others are being queued in the background).
	Members, MembersQueued int64
}

// Unqueued is how many selected members have no message yet: waiting to
// be queued, or never to be when the announcement was cancelled.
func (a Announcement) Unqueued() int64 {
	return max(0, a.Members-a.MembersQueued)
}

// Filter selects recipients, as the members service's segment filter does.
type Filter struct {
	Interests, Skills, Goals, Roles []string
	CountryCodes, Regions, Cities   []string
	Levels, Statuses, Consents      []string
	JoinedAfter, JoinedBefore       time.Time
	LastActiveAfter                 time.Time
	LastActiveBefore                time.Time
}

// Announcement errors.
var (
	ErrAnnouncementNotFound = errors.New("announcement not found")
	ErrEmptySegment         = errors.New("the segment selects no member who can receive it")
)

// NewAnnouncement validates an announcement request.
func NewAnnouncement(a Announcement, now time.Time) (Announcement, error) {
	var errs validate.Errors
	if _, ferr := validate.Slug("template", a.Template, 63); ferr != nil {
		errs = append(errs, ferr)
	}
	if a.Kind != KindAnnouncement && a.Kind != KindDigest {
		errs = append(errs, validate.Field("kind", "must be announcement or digest"))
	}
	if !a.SendAt.IsZero() && a.SendAt.Before(now.Add(-time.Minute)) {
		errs = append(errs, validate.Field("send_at", "lies in the past"))
	}
	if a.SendAt.After(now.AddDate(1, 0, 0)) {
		errs = append(errs, validate.Field("send_at", "lies more than a year ahead"))
	}
	if ferr := checkKey(a.IdempotencyKey); ferr != nil {
		errs = append(errs, ferr)
	}
	if ferr := checkVars(a.Vars); ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return Announcement{}, err
	}
	if a.SendAt.IsZero() {
		a.SendAt = now
	}
	a.SendAt = a.SendAt.UTC().Truncate(time.Microsecond)
	a.CreatedAt = now.UTC().Truncate(time.Microsecond)
	return a, nil
}
