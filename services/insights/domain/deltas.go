package domain

// Key names one daily bucket: a series (Bucket), a breakdown value (Dim,
// empty for series without one) and a day.
type Key struct {
	Bucket string
	Dim    string
	Day    Day
}

// Deltas are what facts add to daily buckets. A fact's contribution is
// computed from its whole state, so a change is applied as the difference
// between its contribution after and before: the same fact arriving twice,
// or its events arriving in another order, leaves the same buckets.
type Deltas map[Key]int64

// Add adds v to one bucket.
func (d Deltas) Add(bucket, dim string, day Day, v int64) {
	if v == 0 {
		return
	}
	k := Key{Bucket: bucket, Dim: dim, Day: day}
	if n := d[k] + v; n != 0 {
		d[k] = n
	} else {
		delete(d, k)
	}
}

// Merge adds every delta of o.
func (d Deltas) Merge(o Deltas) {
	for k, v := range o {
		d.Add(k.Bucket, k.Dim, k.Day, v)
	}
}

// Diff is after minus before: what to apply when a fact changes.
func Diff(before, after Deltas) Deltas {
	out := Deltas{}
	out.Merge(after)
	for k, v := range before {
		out.Add(k.Bucket, k.Dim, k.Day, -v)
	}
	return out
}

// interval adds +v from day from and -v from day to (exclusive): a level
// held over [from, to). to == NoDay leaves it open.
func (d Deltas) interval(bucket, dim string, from, to Day, v int64) {
	if to <= from {
		return
	}
	d.Add(bucket, dim, from, v)
	if to != NoDay {
		d.Add(bucket, dim, to, -v)
	}
}

// The daily buckets. Level buckets (members, active members, partners by
// stage) hold changes: a day's level is the sum of every change up to it.
// Count buckets hold what happened on the day.
const (
	BucketMembers          = "members.total" // level
	BucketNewcomers        = "members.newcomers"
	BucketLeavers          = "members.leavers"
	BucketActive           = "members.active"   // level
	BucketByLevel          = "members.by_level" // level, dim level
	BucketCohort           = "members.cohort"   // dim week offset 1..12, day the cohort's Monday
	BucketWelcomed         = "onboarding.welcomed"
	BucketProfileCompleted = "onboarding.profile_completed"
	BucketFirstEvent       = "onboarding.first_event"
	BucketOnboarded        = "onboarding.onboarded"

	BucketHeld              = "events.held"
	BucketSeats             = "events.seats"
	BucketCheckIns          = "events.checkins"
	BucketNoShows           = "events.no_shows"
	BucketWaitlisted        = "events.waitlisted"
	BucketWaitlistConverted = "events.waitlist_converted"
	BucketRatingSum         = "events.rating_sum"
	BucketRatings           = "events.ratings"

	BucketAmbassadors        = "ambassadors.active" // level, dim tier
	BucketNominations        = "ambassadors.nominations"
	BucketNominationOutcomes = "ambassadors.nomination_outcomes" // dim outcome

	BucketSent         = "communications.sent" // dim channel
	BucketDelivered    = "communications.delivered"
	BucketBounced      = "communications.bounced"
	BucketUnsubscribed = "communications.unsubscribed"
	BucketFailed       = "communications.failed"

	BucketPartnersByStage  = "partners.by_stage" // level, dim stage
	BucketContributions    = "partners.contributions"
	BucketMoney            = "partners.money"   // dim currency, minor units
	BucketInKind           = "partners.in_kind" // dim currency, minor units
	BucketVolunteerMinutes = "partners.volunteer_minutes"
	BucketExpiring30       = "partners.expiring_30" // level
	BucketExpiring60       = "partners.expiring_60" // level
	BucketExpiring90       = "partners.expiring_90" // level
)

// LevelBuckets are the buckets holding changes of a level.
var LevelBuckets = map[string]bool{
	BucketMembers: true, BucketActive: true, BucketByLevel: true, BucketAmbassadors: true,
	BucketPartnersByStage: true, BucketExpiring30: true, BucketExpiring60: true, BucketExpiring90: true,
}
