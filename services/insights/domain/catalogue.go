package domain

// Kind says how a metric's periods are answered.
type Kind int

// Metric kinds.
const (
	// KindStock is a level: the value on a period's last day.
	KindStock Kind = iota + 1
	// KindFlow is what happened: the sum over a period.
	KindFlow
	// KindRatio is numerator over denominator within a period (or on its
	// last day, for ratios of levels).
	KindRatio
	// KindQuantile is a quantile of durations that ended in a period.
	KindQuantile
)

// Direction says which way is better.
type Direction int

// Directions.
const (
	Up Direction = iota + 1
	Down
)

// Term is one daily bucket a metric adds up, with a sign; Dim fixes one
// breakdown value of the bucket (empty: every value, or the metric's
// breakdown).
type Term struct {
	Bucket string
	Dim    string
	Sign   int64
}

// Special metrics are computed from facts, not buckets.
const (
	SpecialTimeToFirstEvent = "time_to_first_event"
	SpecialQuota            = "quota_attainment"
)

// Metric is one entry of the catalogue: every metric is defined here once,
// and docs/insights.md is checked against this list.
type Metric struct {
	Name, Title string
	Meaning     string
	Formula     string
	Sources     []string
	Unit        string
	Kind        Kind
	Better      Direction
	// Breakdown names the dimension of the metric's buckets' values;
	// empty when it has none.
	Breakdown string
	// NoTotal: the breakdown values are never added up (currencies); a
	// goal names one.
	NoTotal     bool
	Segmentable bool
	// Share: values lie in [0, 1].
	Share bool
	// Max bounds a goal's target (ratings); 0 means none beyond Share.
	Max float64
	// Terms are added up (stock, flow) or the numerator (ratio).
	Terms []Term
	// Den is a ratio's denominator.
	Den []Term
	// LevelRatio: a ratio of two levels, taken on the day.
	LevelRatio bool
	// Scale multiplies the value (minutes into hours); 0 means 1.
	Scale float64
	// Special names a metric computed from facts; Quantile is its
	// quantile.
	Special  string
	Quantile float64
}

// CloudEvents types the catalogue cites.
const (
	evJoined     = "kinship.members.v1.MemberJoined"
	evLeft       = "kinship.members.v1.MemberLeft"
	evStatus     = "kinship.members.v1.StatusChanged"
	evErased     = "kinship.members.v1.MemberErased"
	evMerged     = "kinship.members.v1.MemberMerged"
	evActivity   = "kinship.members.v1.ActivityRecorded"
	evLevel      = "kinship.members.v1.LevelChanged"
	evRole       = "kinship.members.v1.RoleChanged"
	evProfile    = "kinship.members.v1.ProfileUpdated"
	evOnboarded  = "kinship.members.v1.MemberOnboarded"
	evScheduled  = "kinship.events.v1.EventScheduled"
	evUpdated    = "kinship.events.v1.EventUpdated"
	evCancelled  = "kinship.events.v1.EventCancelled"
	evRSVP       = "kinship.events.v1.RSVPReceived"
	evSeat       = "kinship.events.v1.SeatTaken"
	evRSVPCancel = "kinship.events.v1.RSVPCancelled"
	evWaitlisted = "kinship.events.v1.Waitlisted"
	evCheckedIn  = "kinship.events.v1.CheckedIn"
	evNoShow     = "kinship.events.v1.NoShow"
	evFeedback   = "kinship.events.v1.FeedbackGiven"
	evSent       = "kinship.communications.v1.MessageSent"
	evBounced    = "kinship.communications.v1.MessageBounced"
	evFailed     = "kinship.communications.v1.MessageFailed"
	evUnsub      = "kinship.communications.v1.Unsubscribed"
	evPartner    = "kinship.partners.v1.PartnerAdded"
	evMoved      = "kinship.partners.v1.PartnerStatusChanged"
	evSigned     = "kinship.partners.v1.AgreementSigned"
	evEnded      = "kinship.partners.v1.AgreementEnded"
	evContrib    = "kinship.partners.v1.ContributionRecorded"
)

// srcNominations is the one source that is no event: the ambassador
// programme's nominations, read from the worker's journeys API.
const srcNominations = "kinship.journeys.v1.JourneysService/ListNominations"

var membership = []string{evJoined, evLeft, evStatus, evErased, evMerged}

func plus(buckets ...string) []Term {
	out := make([]Term, len(buckets))
	for i, b := range buckets {
		out[i] = Term{Bucket: b, Sign: 1}
	}
	return out
}

// Catalogue is every metric, in the order the documentation lists them.
func Catalogue() []Metric {
	return []Metric{
		{Name: "members.total", Title: "Members", Unit: "members", Kind: KindStock, Better: Up, Segmentable: true,
			Meaning: "People who belong to the community on the day.",
			Formula: "joined on or before the day − left or erased on or before the day",
			Sources: membership, Terms: plus(BucketMembers)},
		{Name: "members.newcomers", Title: "Newcomers", Unit: "members", Kind: KindFlow, Better: Up, Segmentable: true,
			Meaning: "People who joined in the period.",
			Formula: "count of members whose joined_at falls in the period",
			Sources: []string{evJoined}, Terms: plus(BucketNewcomers)},
		{Name: "members.leavers", Title: "Leavers", Unit: "members", Kind: KindFlow, Better: Down, Segmentable: true,
			Meaning: "People whose membership ended in the period (they left and did not come back, or were erased).",
			Formula: "count of members whose membership ended in the period",
			Sources: membership, Terms: plus(BucketLeavers)},
		{Name: "members.active", Title: "Active members", Unit: "members", Kind: KindStock, Better: Up, Segmentable: true,
			Meaning: "Members with any recorded activity (RSVP, attendance, hosting, referral, contribution, task, post, onboarding) in the 30 days up to the day.",
			Formula: "members on the day with an activity in [day − 29, day]",
			Sources: append([]string{evActivity}, membership...), Terms: plus(BucketActive)},
		{Name: "members.inactive", Title: "Inactive members", Unit: "members", Kind: KindStock, Better: Down, Segmentable: true,
			Meaning: "Members with no recorded activity in the 30 days up to the day (CHAOSS: inactive contributors).",
			Formula: "members.total − members.active",
			Sources: append([]string{evActivity}, membership...), Terms: []Term{{Bucket: BucketMembers, Sign: 1}, {Bucket: BucketActive, Sign: -1}}},
		{Name: "members.active_rate", Title: "Share of members active", Unit: "ratio", Kind: KindRatio, Better: Up, Segmentable: true, Share: true, LevelRatio: true,
			Meaning: "The share of members active on the day.",
			Formula: "members.active / members.total, on the period's last day",
			Sources: append([]string{evActivity}, membership...), Terms: plus(BucketActive), Den: plus(BucketMembers)},
		{Name: "members.by_level", Title: "Members by level", Unit: "members", Kind: KindStock, Better: Up, Segmentable: true, Breakdown: "level",
			Meaning: "Members on the day, by their current engagement level (the members service keeps no history of levels).",
			Formula: "members.total grouped by current level",
			Sources: append([]string{evLevel}, membership...), Terms: plus(BucketByLevel)},

		{Name: "onboarding.welcomed", Title: "Welcomed", Unit: "members", Kind: KindFlow, Better: Up,
			Meaning: "Members whose welcome e-mail (the onboarding journey's) was sent in the period.",
			Formula: "count of MessageSent with key onboarding/<community>/<member>/welcome, first per member",
			Sources: []string{evSent}, Terms: plus(BucketWelcomed)},
		{Name: "onboarding.profile_completed", Title: "Profiles completed", Unit: "members", Kind: KindFlow, Better: Up,
			Meaning: "Members whose profile first had a time zone, a city or country and an interest in the period.",
			Formula: "count of members by the first time their profile was complete",
			Sources: []string{evJoined, evProfile}, Terms: plus(BucketProfileCompleted)},
		{Name: "onboarding.first_event", Title: "First events", Unit: "members", Kind: KindFlow, Better: Up,
			Meaning: "Members who checked in at an event for the first time in the period.",
			Formula: "count of members by their first CheckedIn",
			Sources: []string{evCheckedIn}, Terms: plus(BucketFirstEvent)},
		{Name: "onboarding.onboarded", Title: "Onboarded", Unit: "members", Kind: KindFlow, Better: Up,
			Meaning: "Members who finished their onboarding journey in the period.",
			Formula: "count of MemberOnboarded",
			Sources: []string{evOnboarded}, Terms: plus(BucketOnboarded)},
		{Name: "onboarding.time_to_first_event_median", Title: "Time to first event (median)", Unit: "days", Kind: KindQuantile, Better: Down,
			Meaning: "How long members took from joining to their first check-in, for first check-ins in the period: the median.",
			Formula: "median of (first CheckedIn − joined_at) in days, over members whose first check-in falls in the period",
			Sources: []string{evJoined, evCheckedIn}, Special: SpecialTimeToFirstEvent, Quantile: 0.5},
		{Name: "onboarding.time_to_first_event_p90", Title: "Time to first event (90th percentile)", Unit: "days", Kind: KindQuantile, Better: Down,
			Meaning: "As the median, the 90th percentile: nine in ten newcomers got to an event within it.",
			Formula: "90th percentile (interpolated between ranks) of (first CheckedIn − joined_at) in days, over members whose first check-in falls in the period",
			Sources: []string{evJoined, evCheckedIn}, Special: SpecialTimeToFirstEvent, Quantile: 0.9},

		{Name: "events.held", Title: "Events held", Unit: "occurrences", Kind: KindFlow, Better: Up,
			Meaning: "Occurrences of published events that started in the period and were not cancelled.",
			Formula: "count of occurrences by start day, cancelled ones left out",
			Sources: []string{evScheduled, evUpdated, evCancelled}, Terms: plus(BucketHeld)},
		{Name: "events.rsvps", Title: "RSVPs", Unit: "seats", Kind: KindFlow, Better: Up,
			Meaning: "Seats taken and kept (going, checked in or no-show) at occurrences that started in the period.",
			Formula: "count of RSVPs holding a seat, by the occurrence's start day",
			Sources: []string{evRSVP, evSeat, evRSVPCancel, evCheckedIn, evNoShow, evScheduled}, Terms: plus(BucketSeats)},
		{Name: "events.checkins", Title: "Check-ins", Unit: "attendees", Kind: KindFlow, Better: Up,
			Meaning: "Attendees checked in at occurrences that started in the period.",
			Formula: "count of CheckedIn, by the occurrence's start day",
			Sources: []string{evCheckedIn, evScheduled}, Terms: plus(BucketCheckIns)},
		{Name: "events.attendance_rate", Title: "Attendance rate", Unit: "ratio", Kind: KindRatio, Better: Up, Share: true,
			Meaning: "Of the seats taken, the share that was used.",
			Formula: "check-ins / seats, over occurrences that started in the period",
			Sources: []string{evSeat, evCheckedIn, evNoShow, evScheduled}, Terms: plus(BucketCheckIns), Den: plus(BucketSeats)},
		{Name: "events.no_show_rate", Title: "No-show rate", Unit: "ratio", Kind: KindRatio, Better: Down, Share: true,
			Meaning: "Of the seats taken, the share left empty.",
			Formula: "no-shows / seats, over occurrences that started in the period",
			Sources: []string{evSeat, evCheckedIn, evNoShow, evScheduled}, Terms: plus(BucketNoShows), Den: plus(BucketSeats)},
		{Name: "events.waitlist_conversion", Title: "Waitlist conversion", Unit: "ratio", Kind: KindRatio, Better: Up, Share: true,
			Meaning: "Of the members who were on a waitlist, the share who got a seat and kept it.",
			Formula: "waitlisted RSVPs holding a seat / waitlisted RSVPs, over occurrences that started in the period",
			Sources: []string{evWaitlisted, evSeat, evScheduled}, Terms: plus(BucketWaitlistConverted), Den: plus(BucketWaitlisted)},
		{Name: "events.feedback_mean", Title: "Mean feedback", Unit: "rating (1–5)", Kind: KindRatio, Better: Up, Max: 5,
			Meaning: "The mean rating attendees gave occurrences that started in the period.",
			Formula: "sum of ratings / number of ratings (a rating given again replaces the first)",
			Sources: []string{evFeedback, evScheduled}, Terms: plus(BucketRatingSum), Den: plus(BucketRatings)},

		{Name: "ambassadors.active", Title: "Ambassadors", Unit: "ambassadors", Kind: KindStock, Better: Up, Breakdown: "tier",
			Meaning: "Members holding the ambassador role on the day, by their current tier.",
			Formula: "members with the ambassador role assigned on or before the day and not taken back by it",
			Sources: []string{evRole}, Terms: plus(BucketAmbassadors)},
		{Name: "ambassadors.quota_attainment", Title: "Ambassador quota attainment", Unit: "ratio", Kind: KindRatio, Better: Up, Share: true,
			Meaning: "Of the ambassadors at the end of the period, the share who met every quota of the programme within the period (quotas are activity counts, such as one hosted_event; set with -ambassador-quotas to match the programme).",
			Formula: "ambassadors with, in the period, at least count activities of each quota type / ambassadors on the period's last day",
			Sources: []string{evRole, evActivity}, Special: SpecialQuota},
		{Name: "ambassadors.nominations", Title: "Ambassador nominations", Unit: "nominations", Kind: KindFlow, Better: Up,
			Meaning: "Nominations to the ambassador programme made in the period, by organisers, peers or the members themselves (a member nominated again counts again).",
			Formula: "count of nominations by the day they were made",
			Sources: []string{srcNominations}, Terms: plus(BucketNominations)},
		{Name: "ambassadors.nomination_outcomes", Title: "Nominations decided", Unit: "nominations", Kind: KindFlow, Better: Up, Breakdown: "outcome",
			Meaning: "Nominations decided in the period, by outcome: approved, rejected, expired (no decision before the review ran out), withdrawn, ineligible, or ended (cancelled, or the member gone).",
			Formula: "count of nominations by the day they were decided, grouped by outcome",
			Sources: []string{srcNominations}, Terms: plus(BucketNominationOutcomes)},
		{Name: "ambassadors.nominations_approved", Title: "Nominations approved", Unit: "nominations", Kind: KindFlow, Better: Up,
			Meaning: "Nominations the reviewers approved in the period.",
			Formula: "ambassadors.nomination_outcomes for approved, by the day of the deciding review",
			Sources: []string{srcNominations}, Terms: []Term{{Bucket: BucketNominationOutcomes, Dim: NominationApproved, Sign: 1}}},
		{Name: "ambassadors.nominations_rejected", Title: "Nominations rejected", Unit: "nominations", Kind: KindFlow, Better: Down,
			Meaning: "Nominations a reviewer rejected in the period.",
			Formula: "ambassadors.nomination_outcomes for rejected, by the day of the rejecting review",
			Sources: []string{srcNominations}, Terms: []Term{{Bucket: BucketNominationOutcomes, Dim: NominationRejected, Sign: 1}}},

		{Name: "communications.sent", Title: "Messages sent", Unit: "messages", Kind: KindFlow, Better: Up, Breakdown: "channel",
			Meaning: "Messages the mail server or webhook accepted in the period, by channel.",
			Formula: "count of MessageSent by sent day",
			Sources: []string{evSent}, Terms: plus(BucketSent)},
		{Name: "communications.delivered", Title: "Messages delivered", Unit: "messages", Kind: KindFlow, Better: Up, Breakdown: "channel",
			Meaning: "Messages sent in the period that did not bounce, by channel.",
			Formula: "sent − bounced, by sent day",
			Sources: []string{evSent, evBounced}, Terms: plus(BucketDelivered)},
		{Name: "communications.bounced", Title: "Messages bounced", Unit: "messages", Kind: KindFlow, Better: Down, Breakdown: "channel",
			Meaning: "Messages sent in the period that bounced, by channel.",
			Formula: "count of MessageBounced, by the message's sent day",
			Sources: []string{evSent, evBounced}, Terms: plus(BucketBounced)},
		{Name: "communications.unsubscribed", Title: "Unsubscribes", Unit: "unsubscribes", Kind: KindFlow, Better: Down, Breakdown: "channel",
			Meaning: "Members leaving an e-mail category in the period.",
			Formula: "count of Unsubscribed by day",
			Sources: []string{evUnsub}, Terms: plus(BucketUnsubscribed)},
		{Name: "communications.failed", Title: "Messages failed", Unit: "messages", Kind: KindFlow, Better: Down,
			Meaning: "Messages that failed for good in the period, never sent.",
			Formula: "count of MessageFailed by day",
			Sources: []string{evFailed}, Terms: plus(BucketFailed)},

		{Name: "partners.by_stage", Title: "Partners by stage", Unit: "partners", Kind: KindStock, Better: Up, Breakdown: "stage",
			Meaning: "Partner organisations on the day, by pipeline stage (prospect, in_conversation, active, lapsed).",
			Formula: "partners grouped by their stage on the day",
			Sources: []string{evPartner, evMoved}, Terms: plus(BucketPartnersByStage)},
		{Name: "partners.active", Title: "Active partners", Unit: "partners", Kind: KindStock, Better: Up,
			Meaning: "Partners in the active stage on the day.",
			Formula: "partners.by_stage for active",
			Sources: []string{evPartner, evMoved}, Terms: []Term{{Bucket: BucketPartnersByStage, Dim: StageActive, Sign: 1}}},
		{Name: "partners.contributions", Title: "Contributions", Unit: "contributions", Kind: KindFlow, Better: Up,
			Meaning: "Contributions partners made in the period, of any kind.",
			Formula: "count of ContributionRecorded by the contribution's date",
			Sources: []string{evContrib}, Terms: plus(BucketContributions)},
		{Name: "partners.contributions_money", Title: "Money contributed", Unit: "minor currency units", Kind: KindFlow, Better: Up, Breakdown: "currency", NoTotal: true,
			Meaning: "Money partners gave in the period, per currency (never converted or added across currencies).",
			Formula: "sum of amount_minor of money contributions, by currency",
			Sources: []string{evContrib}, Terms: plus(BucketMoney)},
		{Name: "partners.contributions_in_kind", Title: "In-kind value contributed", Unit: "minor currency units", Kind: KindFlow, Better: Up, Breakdown: "currency", NoTotal: true,
			Meaning: "The value of goods, services and venues partners gave in the period, per currency.",
			Formula: "sum of amount_minor of in_kind and venue contributions, by currency",
			Sources: []string{evContrib}, Terms: plus(BucketInKind)},
		{Name: "partners.volunteer_hours", Title: "Volunteer hours", Unit: "hours", Kind: KindFlow, Better: Up,
			Meaning: "Hours partners' volunteers gave in the period.",
			Formula: "sum of volunteer_minutes / 60",
			Sources: []string{evContrib}, Terms: plus(BucketVolunteerMinutes), Scale: 1.0 / 60},
		{Name: "partners.agreements_expiring_30", Title: "Agreements expiring in 30 days", Unit: "agreements", Kind: KindStock, Better: Down,
			Meaning: "Signed agreements, still running on the day, whose last day is at most 30 days ahead.",
			Formula: "agreements with signed_on ≤ day ≤ end_date ≤ day + 30, not ended",
			Sources: []string{evSigned, evEnded}, Terms: plus(BucketExpiring30)},
		{Name: "partners.agreements_expiring_60", Title: "Agreements expiring in 60 days", Unit: "agreements", Kind: KindStock, Better: Down,
			Meaning: "As above, 60 days ahead.",
			Formula: "agreements with signed_on ≤ day ≤ end_date ≤ day + 60, not ended",
			Sources: []string{evSigned, evEnded}, Terms: plus(BucketExpiring60)},
		{Name: "partners.agreements_expiring_90", Title: "Agreements expiring in 90 days", Unit: "agreements", Kind: KindStock, Better: Down,
			Meaning: "As above, 90 days ahead.",
			Formula: "agreements with signed_on ≤ day ≤ end_date ≤ day + 90, not ended",
			Sources: []string{evSigned, evEnded}, Terms: plus(BucketExpiring90)},
	}
}

// Lookup finds a metric of the catalogue by name.
func Lookup(name string) (Metric, bool) {
	for _, m := range Catalogue() {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}
