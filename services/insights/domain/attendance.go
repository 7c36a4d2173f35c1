package domain

import "time"

// Occurrence is one occurrence of a published event. Its attendance is
// counted on the day it starts.
type Occurrence struct {
	ID, EventID string
	Start, End  time.Time
	// Known is false until the occurrence's times arrive: RSVPs may come
	// first.
	Known     bool
	Cancelled bool
	// Version dates Start and End, so an older change never wins.
	Version time.Time
}

// Contributions are what the occurrence itself adds: one event held.
func (o Occurrence) Contributions(loc *time.Location) Deltas {
	out := Deltas{}
	if o.Known && !o.Cancelled {
		out.Add(BucketHeld, "", DayOf(o.Start, loc), 1)
	}
	return out
}

// AttendanceStatus is where a member stands with an occurrence.
type AttendanceStatus string

// Attendance statuses, as the events service names them.
const (
	AttendanceNone         AttendanceStatus = ""
	AttendanceGoing        AttendanceStatus = "going"
	AttendanceWaitlisted   AttendanceStatus = "waitlisted"
	AttendanceOffered      AttendanceStatus = "offered"
	AttendanceCheckedIn    AttendanceStatus = "checked_in"
	AttendanceNoShow       AttendanceStatus = "no_show"
	AttendanceNotGoing     AttendanceStatus = "not_going"
	AttendanceCancelled    AttendanceStatus = "cancelled"
	AttendanceOfferExpired AttendanceStatus = "offer_expired"
)

// Attendance is one member's RSVP for one occurrence, keyed by the two.
type Attendance struct {
	OccurrenceID, MemberID, EventID string
	// Status is the latest known, dated by StatusAt.
	Status   AttendanceStatus
	StatusAt time.Time
	// Waitlisted: the member was on the waitlist at some point.
	Waitlisted  bool
	CheckedInAt time.Time
	NoShowAt    time.Time
	Rating      int
	RatedAt     time.Time
}

// SetStatus moves to s at at unless a later status is known.
func (a *Attendance) SetStatus(s AttendanceStatus, at time.Time) {
	if a.Status == AttendanceNone || !at.Before(a.StatusAt) {
		a.Status, a.StatusAt = s, at
	}
	if s == AttendanceWaitlisted {
		a.Waitlisted = true
	}
}

// CheckedIn reports a check-in; it outranks a no-show (the team corrects
// the record after the sweep).
func (a Attendance) CheckedIn() bool {
	return !a.CheckedInAt.IsZero() || a.Status == AttendanceCheckedIn
}

// NoShow reports a held seat that was not used.
func (a Attendance) NoShow() bool {
	return !a.CheckedIn() && (!a.NoShowAt.IsZero() || a.Status == AttendanceNoShow)
}

// HoldsSeat reports a seat taken and kept: going, checked in or no-show.
func (a Attendance) HoldsSeat() bool {
	return a.CheckedIn() || a.NoShow() || a.Status == AttendanceGoing
}

// Contributions are what the RSVP adds on the day occurrence o starts.
func (a Attendance) Contributions(o Occurrence, loc *time.Location) Deltas {
	out := Deltas{}
	if !o.Known || o.Cancelled {
		return out
	}
	day := DayOf(o.Start, loc)
	add := func(bucket string, yes bool) {
		if yes {
			out.Add(bucket, "", day, 1)
		}
	}
	add(BucketSeats, a.HoldsSeat())
	add(BucketCheckIns, a.CheckedIn())
	add(BucketNoShows, a.NoShow())
	add(BucketWaitlisted, a.Waitlisted)
	add(BucketWaitlistConverted, a.Waitlisted && a.HoldsSeat())
	if a.Rating > 0 {
		out.Add(BucketRatingSum, "", day, int64(a.Rating))
		out.Add(BucketRatings, "", day, 1)
	}
	return out
}
