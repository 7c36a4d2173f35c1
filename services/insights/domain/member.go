package domain

import (
	"slices"
	"strconv"
	"time"
)

// ActiveWindow is how many days, the last one included, a recorded
// activity keeps a member active.
const ActiveWindow = 30

// CohortWeeks is how many weeks after joining the cohort table follows.
const CohortWeeks = 12

// Member is what the insights service knows of one member: when they
// joined and left, their current level and the profile attributes
// segments filter by, when they reached each onboarding step, and the days
// they were active. A zero time is not known (yet).
type Member struct {
	ID       string
	JoinedAt time.Time
	// LeftAt is the latest leaving and RejoinedAt the latest return; the
	// member has left when LeftAt is after RejoinedAt.
	LeftAt, RejoinedAt time.Time
	// LeftEstimated says LeftAt was estimated by a rebuild.
	LeftEstimated bool
	ErasedAt      time.Time
	Level         string
	// LevelAt dates Level, so an older change never overwrites a newer.
	LevelAt     time.Time
	CountryCode string
	Interests   []string
	// ProfileAt dates the attributes, so an older update never overwrites
	// a newer one.
	ProfileAt time.Time
	// ProfileComplete is known even when ProfileCompletedAt is not.
	ProfileComplete    bool
	ProfileCompletedAt time.Time
	WelcomedAt         time.Time
	FirstEventAt       time.Time
	OnboardedAt        time.Time
	// Days are the days with at least one recorded activity, ascending.
	Days []Day
}

// Joined reports whether the member's joining is known.
func (m Member) Joined() bool { return !m.JoinedAt.IsZero() }

// EndedAt is when the membership ended — left (and not back) or erased,
// whichever came first — or zero.
func (m Member) EndedAt() time.Time {
	var end time.Time
	if !m.LeftAt.IsZero() && m.LeftAt.After(m.RejoinedAt) {
		end = m.LeftAt
	}
	if !m.ErasedAt.IsZero() && (end.IsZero() || m.ErasedAt.Before(end)) {
		end = m.ErasedAt
	}
	return end
}

// Span is the days the member counts as one: [from, to), to NoDay while
// they stay. ok is false until their joining is known.
func (m Member) Span(loc *time.Location) (from, to Day, ok bool) {
	if !m.Joined() {
		return 0, 0, false
	}
	from, to = DayOf(m.JoinedAt, loc), NoDay
	if end := m.EndedAt(); !end.IsZero() {
		to = max(DayOf(end, loc), from)
	}
	return from, to, true
}

// SetLevel takes level, reached at at, unless a later one is known.
func (m *Member) SetLevel(level string, at time.Time) {
	if !at.Before(m.LevelAt) {
		m.Level, m.LevelAt = level, at
	}
}

// LevelName is the level as a breakdown value.
func (m Member) LevelName() string {
	if m.Level == "" {
		return "none"
	}
	return m.Level
}

// AddDay records an activity day; it reports whether the day was new.
func (m *Member) AddDay(d Day) bool {
	i, found := slices.BinarySearch(m.Days, d)
	if found {
		return false
	}
	m.Days = slices.Insert(m.Days, i, d)
	return true
}

// Contributions are what the member adds to the daily buckets.
func (m Member) Contributions(loc *time.Location) Deltas {
	out := Deltas{}
	m.AddContributions(out, loc)
	return out
}

// AddContributions adds the member's contributions to out.
func (m Member) AddContributions(out Deltas, loc *time.Location) {
	for _, step := range []struct {
		bucket string
		at     time.Time
	}{{BucketWelcomed, m.WelcomedAt}, {BucketProfileCompleted, m.ProfileCompletedAt}, {BucketFirstEvent, m.FirstEventAt}, {BucketOnboarded, m.OnboardedAt}} {
		if !step.at.IsZero() {
			out.Add(step.bucket, "", DayOf(step.at, loc), 1)
		}
	}
	from, to, ok := m.Span(loc)
	if !ok {
		return
	}
	out.Add(BucketNewcomers, "", from, 1)
	out.interval(BucketMembers, "", from, to, 1)
	out.interval(BucketByLevel, m.LevelName(), from, to, 1)
	if to != NoDay {
		out.Add(BucketLeavers, "", to, 1)
	}
	for _, iv := range ActiveSpans(m.Days, from, to) {
		out.interval(BucketActive, "", iv.Start, iv.End+1, 1)
	}
	cohort := WeekStart(from)
	last := Day(-1 << 31)
	for _, d := range m.Days {
		w := WeekStart(d)
		if w == last {
			continue
		}
		last = w
		if k := int(w-cohort) / 7; k >= 1 && k <= CohortWeeks {
			out.Add(BucketCohort, strconv.Itoa(k), cohort, 1)
		}
	}
}

// ActiveSpans are the runs of days a member with activity days (ascending)
// counts as active — each activity day and the ActiveWindow-1 days after
// it — within their membership [from, to).
func ActiveSpans(days []Day, from, to Day) []Period {
	var out []Period
	for _, d := range days {
		s, e := max(d, from), min(d+ActiveWindow-1, to-1)
		if s > e {
			continue
		}
		if n := len(out); n > 0 && s <= out[n-1].End+1 {
			out[n-1].End = max(out[n-1].End, e)
			continue
		}
		out = append(out, Period{Start: s, End: e})
	}
	return out
}

// ProfileCompleteFor reports whether a profile counts as complete for
// onboarding: a time zone, a city or a country, and at least one
// interest (the rule the onboarding journey follows).
func ProfileCompleteFor(timeZone, city, countryCode string, interests []string) bool {
	return timeZone != "" && (city != "" || countryCode != "") && len(interests) > 0
}

// Earliest keeps the earlier of two times, a zero one counting as unknown.
func Earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// Latest keeps the later of two times.
func Latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
