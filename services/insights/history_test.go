package insights_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/internal/db/dbtest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/insights/api"
	w "github.com/kinshiphq/kinship/services/insights/demo"
	"github.com/kinshiphq/kinship/services/insights/domain"
)

// today is the clock of the known history: Sunday 15 March 2026.
var today = w.Day("2026-03-15", "12:00")

// knownNominations are the scenario's ambassador nominations as the
// journeys API tells them on its last day.
func knownNominations() []*journeysv1.Nomination {
	return []*journeysv1.Nomination{
		nomination("nd", "2026-01-20 10:00:00", approved, "2026-01-28 10:00:00"),
		nomination("ne", "2026-02-02 10:00:00", approved, "2026-02-03 09:00:00"),
		nomination("nb", "2026-02-10 10:00:00", rejected, "2026-02-12 10:00:00"),
		nomination("nc", "2026-02-16 10:00:00", expired, "2026-03-09 10:00:00"),
		nomination("na", "2026-03-10 10:00:00", pending, ""),
	}
}

// scenario is a community's first ten weeks, from Monday 5 January 2026:
// five members (one leaves, one is erased), two events with RSVPs,
// waitlists, check-ins, a no-show and ratings, messages and welcomes, two
// partners with agreements and contributions, ambassadors.
func scenario() *w.World {
	x := w.New("demo")
	d := w.Day
	x.Role("org", "organiser", "", true, d("2026-01-05", "08:00"))
	x.AddPartner("p1", d("2026-01-05", "10:00"))
	x.Join("a", d("2026-01-05", "18:00"), w.Profile{Country: "DE", City: "Berlin", TimeZone: "Europe/Berlin", Interests: []string{"solar"}})
	x.Welcome("wa", "a", d("2026-01-05", "18:01"))
	x.Activity("a1", "a", "rsvp", d("2026-01-06", "10:00"))
	x.Join("b", d("2026-01-07", "18:00"), w.Profile{Country: "FR", Interests: []string{"climate"}})
	x.Welcome("wb", "b", d("2026-01-07", "18:01"))
	x.Schedule("ev1", d("2026-01-08", "10:00"), w.Occurrence{ID: "o1", Start: d("2026-01-14", "18:00"), End: d("2026-01-14", "20:00")})
	x.Going("ev1", "o1", "a", d("2026-01-10", "10:00"))
	x.Going("ev1", "o1", "b", d("2026-01-10", "11:00"))
	x.Going("ev1", "o1", "c", d("2026-01-11", "10:00"))
	x.Waitlist("ev1", "o1", "d", d("2026-01-11", "12:00"))
	x.TakeOffer("ev1", "o1", "d", d("2026-01-12", "10:00"))
	x.Join("c", d("2026-01-13", "08:00"), w.Profile{})
	x.Welcome("wc", "c", d("2026-01-13", "08:01"))
	x.CancelRSVP("ev1", "o1", "d", d("2026-01-13", "10:00"))
	x.Join("d", d("2026-01-14", "12:00"), w.Profile{Country: "DE", Interests: []string{"solar"}})
	x.Welcome("wd", "d", d("2026-01-14", "12:01"))
	x.CheckIn("ev1", "o1", "a", d("2026-01-14", "18:00"))
	x.Activity("a2", "a", "attended_event", d("2026-01-14", "18:00"))
	x.CheckIn("ev1", "o1", "b", d("2026-01-14", "18:00"))
	x.Activity("b1", "b", "attended_event", d("2026-01-14", "18:00"))
	x.NoShow("ev1", "o1", "c", d("2026-01-14", "22:00"))
	x.Feedback("ev1", "o1", "a", 5, d("2026-01-15", "09:00"))
	x.Feedback("ev1", "o1", "b", 4, d("2026-01-15", "09:30"))
	x.UpdateProfile("c", d("2026-01-20", "12:00"), w.Profile{Country: "DE", City: "Hamburg", TimeZone: "Europe/Berlin", Interests: []string{"bikes"}})
	x.Onboarded("a3", "a", d("2026-01-20", "10:00"))
	x.Level("a", "Core", d("2026-01-20", "10:00"))
	x.MovePartner("p1", "in_conversation", d("2026-01-20", "10:00"))
	x.Role("d", "ambassador", "bronze", true, d("2026-02-01", "12:00"))
	x.Join("e", d("2026-02-02", "09:00"), w.Profile{})
	x.Welcome("we", "e", d("2026-02-02", "09:01"))
	x.Activity("e1", "e", "posted", d("2026-02-03", "09:00"))
	x.Role("e", "ambassador", "silver", true, d("2026-02-03", "10:00"))
	x.MovePartner("p1", "active", d("2026-02-03", "10:00"))
	x.Sign("ag1", "p1", "2026-02-03", "2026-03-31", "2026-02-03", false, d("2026-02-03", "10:00"))
	x.Contribution("c1", "p1", "money", "2026-02-04", "EUR", 10000, 0, d("2026-02-04", "10:00"))
	x.Contribution("c2", "p1", "volunteer_hours", "2026-02-05", "", 0, 90, d("2026-02-05", "10:00"))
	x.Sent("m6", "", "webhook", "announcement/1/webhook", d("2026-02-05", "10:00"))
	x.Sent("m7", "a", "email", "announcement/1/a", d("2026-02-05", "10:00"))
	x.Bounce("m7", d("2026-02-06", "10:00"))
	x.Fail("m8", "b", d("2026-02-07", "10:00"))
	x.Unsubscribe("b", "email.announcements", d("2026-02-09", "10:00"))
	x.Leave("b", d("2026-02-10", "09:00"))
	x.AddPartner("p2", d("2026-02-10", "10:00"))
	x.Sign("ag2", "p2", "2026-02-10", "2026-04-30", "2026-02-10", false, d("2026-02-10", "10:00"))
	x.Schedule("ev2", d("2026-02-10", "11:00"), w.Occurrence{ID: "o2", Start: d("2026-02-20", "12:00"), End: d("2026-02-20", "14:00")},
		w.Occurrence{ID: "o3", Start: d("2026-02-25", "12:00"), End: d("2026-02-25", "14:00")})
	x.Contribution("c3", "p2", "in_kind", "2026-02-11", "EUR", 5000, 0, d("2026-02-11", "10:00"))
	x.Contribution("c4", "p1", "money", "2026-02-11", "USD", 2000, 0, d("2026-02-11", "11:00"))
	x.Going("ev2", "o2", "d", d("2026-02-12", "10:00"))
	x.Waitlist("ev2", "o2", "a", d("2026-02-15", "10:00"))
	x.TakeOffer("ev2", "o2", "a", d("2026-02-16", "10:00"))
	x.CheckIn("ev2", "o2", "d", d("2026-02-20", "12:00"))
	x.Activity("d1", "d", "hosted_event", d("2026-02-20", "12:00"))
	x.CheckIn("ev2", "o2", "a", d("2026-02-20", "12:30"))
	x.Level("d", "Contributor", d("2026-02-20", "13:00"))
	x.Role("e", "ambassador", "", false, d("2026-02-20", "10:00"))
	x.Going("ev2", "o3", "c", d("2026-02-20", "15:00"))
	x.Feedback("ev2", "o2", "d", 3, d("2026-02-21", "09:00"))
	x.Feedback("ev2", "o2", "a", 4, d("2026-02-21", "10:00"))
	x.Feedback("ev2", "o2", "a", 2, d("2026-02-21", "11:00"))
	x.CancelOccurrence("ev2", "o3", d("2026-02-22", "10:00"))
	x.Erase("e", d("2026-03-01", "08:00"))
	x.EndAgreement("ag2", "p2", "2026-03-10", d("2026-03-10", "10:00"))
	return x
}

// told is the scenario's events as a consumer may get them: shuffled
// across keys, a third delivered twice, and some facts told again under
// new event ids (a resend; what a rebuild read before the events).
func told(x *w.World, seed uint64) []kafka.Event {
	for _, i := range []int{3, 10, 20, 40, 60} { // a welcome, an RSVP, a check-in, a contribution, ...
		x.Republish(i)
	}
	return w.Interleave(rand.New(rand.NewPCG(seed, 7)), x.Events, 0.3)
}

// weeks are the scenario's ten weeks, the last one running to today.
const firstWeek, lastDay = "2026-01-05", "2026-03-15"

func TestAKnownHistoryGivesEveryMetricExactly(t *testing.T) {
	cases := []struct {
		metric string
		seg    domain.Segment
		want   map[string][]float64
	}{
		{"members.total", domain.Segment{}, map[string][]float64{"": {2, 4, 4, 4, 5, 4, 4, 3, 3, 3}}},
		{"members.newcomers", domain.Segment{}, map[string][]float64{"": {2, 2, 0, 0, 1, 0, 0, 0, 0, 0}}},
		{"members.leavers", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 0, 1, 0, 1, 0, 0}}},
		{"members.active", domain.Segment{}, map[string][]float64{"": {1, 2, 2, 2, 3, 2, 2, 1, 1, 1}}},
		{"members.inactive", domain.Segment{}, map[string][]float64{"": {1, 2, 2, 2, 2, 2, 2, 2, 2, 2}}},
		{"members.active_rate", domain.Segment{}, map[string][]float64{"": {1.0 / 2, 2.0 / 4, 2.0 / 4, 2.0 / 4, 3.0 / 5, 2.0 / 4, 2.0 / 4, 1.0 / 3, 1.0 / 3, 1.0 / 3}}},
		{"members.by_level", domain.Segment{}, map[string][]float64{
			"":            {2, 4, 4, 4, 5, 4, 4, 3, 3, 3},
			"Core":        {1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
			"Contributor": {0, 1, 1, 1, 1, 1, 1, 1, 1, 1},
			"none":        {1, 2, 2, 2, 3, 2, 2, 1, 1, 1}}},
		// Segments: by the members' current attributes (c moved to DE).
		{"members.total", domain.Segment{CountryCodes: []string{"DE"}}, map[string][]float64{"": {1, 3, 3, 3, 3, 3, 3, 3, 3, 3}}},
		{"members.active", domain.Segment{Interests: []string{"solar"}}, map[string][]float64{"": {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}},
		{"members.total", domain.Segment{Roles: []string{"ambassador"}}, map[string][]float64{"": {0, 1, 1, 1, 1, 1, 1, 1, 1, 1}}},

		{"onboarding.welcomed", domain.Segment{}, map[string][]float64{"": {2, 2, 0, 0, 1, 0, 0, 0, 0, 0}}},
		{"onboarding.profile_completed", domain.Segment{}, map[string][]float64{"": {1, 0, 1, 0, 0, 0, 0, 0, 0, 0}}},
		{"onboarding.first_event", domain.Segment{}, map[string][]float64{"": {0, 2, 0, 0, 0, 0, 1, 0, 0, 0}}},
		{"onboarding.onboarded", domain.Segment{}, map[string][]float64{"": {0, 0, 1, 0, 0, 0, 0, 0, 0, 0}}},
		// a took 9 days, b 7 (first check-ins in week 2); d 37 (week 7).
		{"onboarding.time_to_first_event_median", domain.Segment{}, map[string][]float64{"": {0, 8, 0, 0, 0, 0, 37, 0, 0, 0}}},
		{"onboarding.time_to_first_event_p90", domain.Segment{}, map[string][]float64{"": {0, 7 + 0.9*2, 0, 0, 0, 0, 37, 0, 0, 0}}},

		{"events.held", domain.Segment{}, map[string][]float64{"": {0, 1, 0, 0, 0, 0, 1, 0, 0, 0}}},
		{"events.rsvps", domain.Segment{}, map[string][]float64{"": {0, 3, 0, 0, 0, 0, 2, 0, 0, 0}}},
		{"events.checkins", domain.Segment{}, map[string][]float64{"": {0, 2, 0, 0, 0, 0, 2, 0, 0, 0}}},
		{"events.attendance_rate", domain.Segment{}, map[string][]float64{"": {0, 2.0 / 3, 0, 0, 0, 0, 1, 0, 0, 0}}},
		{"events.no_show_rate", domain.Segment{}, map[string][]float64{"": {0, 1.0 / 3, 0, 0, 0, 0, 0, 0, 0, 0}}},
		{"events.waitlist_conversion", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 0, 0, 1, 0, 0, 0}}},
		{"events.feedback_mean", domain.Segment{}, map[string][]float64{"": {0, 4.5, 0, 0, 0, 0, 2.5, 0, 0, 0}}},

		{"ambassadors.active", domain.Segment{}, map[string][]float64{
			"":       {0, 0, 0, 1, 2, 2, 1, 1, 1, 1},
			"bronze": {0, 0, 0, 1, 1, 1, 1, 1, 1, 1},
			"silver": {0, 0, 0, 0, 1, 1, 0, 0, 0, 0}}},
		{"ambassadors.quota_attainment", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 0, 0, 1, 0, 0, 0}}},
		// knownNominations: five made, two approved, one rejected, one
		// expired, one pending.
		{"ambassadors.nominations", domain.Segment{}, map[string][]float64{"": {0, 0, 1, 0, 1, 1, 1, 0, 0, 1}}},
		{"ambassadors.nominations_approved", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 1, 1, 0, 0, 0, 0, 0}}},
		{"ambassadors.nominations_rejected", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 0, 1, 0, 0, 0, 0}}},
		{"ambassadors.nomination_outcomes", domain.Segment{}, map[string][]float64{
			"":         {0, 0, 0, 1, 1, 1, 0, 0, 0, 1},
			"approved": {0, 0, 0, 1, 1, 0, 0, 0, 0, 0},
			"rejected": {0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
			"expired":  {0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}},

		{"communications.sent", domain.Segment{}, map[string][]float64{
			"": {2, 2, 0, 0, 3, 0, 0, 0, 0, 0}, "email": {2, 2, 0, 0, 2, 0, 0, 0, 0, 0}, "webhook": {0, 0, 0, 0, 1, 0, 0, 0, 0, 0}}},
		{"communications.delivered", domain.Segment{}, map[string][]float64{
			"": {2, 2, 0, 0, 2, 0, 0, 0, 0, 0}, "email": {2, 2, 0, 0, 1, 0, 0, 0, 0, 0}, "webhook": {0, 0, 0, 0, 1, 0, 0, 0, 0, 0}}},
		{"communications.bounced", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 1, 0, 0, 0, 0, 0}, "email": {0, 0, 0, 0, 1, 0, 0, 0, 0, 0}}},
		{"communications.unsubscribed", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, "email": {0, 0, 0, 0, 0, 1, 0, 0, 0, 0}}},
		{"communications.failed", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 1, 0, 0, 0, 0, 0}}},

		{"partners.by_stage", domain.Segment{}, map[string][]float64{
			"":                {1, 1, 1, 1, 1, 2, 2, 2, 2, 2},
			"prospect":        {1, 1, 0, 0, 0, 1, 1, 1, 1, 1},
			"in_conversation": {0, 0, 1, 1, 0, 0, 0, 0, 0, 0},
			"active":          {0, 0, 0, 0, 1, 1, 1, 1, 1, 1}}},
		{"partners.active", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 1, 1, 1, 1, 1, 1}}},
		{"partners.contributions", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 2, 2, 0, 0, 0, 0}}},
		{"partners.contributions_money", domain.Segment{}, map[string][]float64{
			"EUR": {0, 0, 0, 0, 10000, 0, 0, 0, 0, 0}, "USD": {0, 0, 0, 0, 0, 2000, 0, 0, 0, 0}}},
		{"partners.contributions_in_kind", domain.Segment{}, map[string][]float64{"EUR": {0, 0, 0, 0, 0, 5000, 0, 0, 0, 0}}},
		{"partners.volunteer_hours", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 1.5, 0, 0, 0, 0, 0}}},
		{"partners.agreements_expiring_30", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 0, 0, 0, 1, 1, 1}}},
		{"partners.agreements_expiring_60", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 1, 1, 1, 2, 2, 1}}},
		{"partners.agreements_expiring_90", domain.Segment{}, map[string][]float64{"": {0, 0, 0, 0, 1, 2, 2, 2, 2, 1}}},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.metric] = true
	}
	for _, m := range domain.Catalogue() {
		if !covered[m.Name] {
			t.Errorf("the known history asserts nothing of %s", m.Name)
		}
	}
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			r := newRig(t, engine, today)
			r.feed(t, told(scenario(), 1))
			journeys, source := serveJourneys(t)
			journeys.set("demo", knownNominations()...)
			if err := api.NewNominationSync(r.store, r.gate, source, []string{"demo"}, nil).Sync(context.Background(), "demo"); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				got := r.series(t, c.metric, firstWeek, lastDay, domain.ByWeek, c.seg)
				for dim, want := range c.want {
					if !sameValues(got[dim], want) {
						t.Errorf("%s %v [%s] by week = %v, want %v", c.metric, c.seg, dim, got[dim], want)
					}
				}
				for dim := range got {
					if _, ok := c.want[dim]; !ok {
						t.Errorf("%s %v has a line %q the history does not give", c.metric, c.seg, dim)
					}
				}
			}
		})
	}
}

func TestAKnownHistoryByDayAndMonth(t *testing.T) {
	r := newRig(t, "sqlite", today)
	r.feed(t, told(scenario(), 2))
	for _, c := range []struct {
		metric, from, to string
		g                domain.Granularity
		want             []float64
	}{
		{"members.total", "2026-01-01", "2026-03-15", domain.ByMonth, []float64{4, 4, 3}},
		{"members.newcomers", "2026-01-01", "2026-03-15", domain.ByMonth, []float64{4, 1, 0}},
		// a's last activity (20 January) keeps them active to 18 February.
		{"members.active", "2026-02-17", "2026-02-20", domain.ByDay, []float64{2, 2, 1, 2}},
		{"events.attendance_rate", "2026-01-01", "2026-03-15", domain.ByMonth, []float64{2.0 / 3, 1, 0}},
		// A period ending in the future is answered up to today.
		{"members.total", "2026-03-01", "2026-03-31", domain.ByMonth, []float64{3}},
	} {
		got := r.series(t, c.metric, c.from, c.to, c.g, domain.Segment{})[""]
		if !sameValues(got, c.want) {
			t.Errorf("%s from %s to %s by %s = %v, want %v", c.metric, c.from, c.to, c.g, got, c.want)
		}
	}
}

func TestTheCohortTableOfAKnownHistory(t *testing.T) {
	for _, engine := range dbtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			r := newRig(t, engine, today)
			r.feed(t, told(scenario(), 3))
			cohorts, _, err := r.engine.Cohorts(context.Background(), "demo", "2026-01-05", "2026-02-02", domain.Segment{})
			if err != nil {
				t.Fatal(err)
			}
			want := []struct {
				week   string
				size   int64
				active []int64
			}{
				{"2026-01-05", 2, []int64{2, 1, 0, 0, 0, 0, 0, 0, 0}}, // a and b, then a
				{"2026-01-12", 2, []int64{0, 0, 0, 0, 1, 0, 0, 0}},    // d hosts in week W+5
				{"2026-01-19", 0, []int64{0, 0, 0, 0, 0, 0, 0}},
				{"2026-01-26", 0, []int64{0, 0, 0, 0, 0, 0}},
				{"2026-02-02", 1, []int64{0, 0, 0, 0, 0}}, // e's one activity is in their first week
			}
			if len(cohorts) != len(want) {
				t.Fatalf("%d cohorts, want %d", len(cohorts), len(want))
			}
			for i, c := range cohorts {
				if c.Week.String() != want[i].week || c.Size != want[i].size || !slices.Equal(c.Active, want[i].active) {
					t.Errorf("cohort %d = %s size %d active %v, want %s size %d active %v", i, c.Week, c.Size, c.Active, want[i].week, want[i].size, want[i].active)
				}
			}
		})
	}
}

func TestTheOnboardingFunnelOfAKnownHistory(t *testing.T) {
	r := newRig(t, "sqlite", today)
	r.feed(t, told(scenario(), 4))
	f, err := r.engine.Funnel(context.Background(), "demo", "2026-01-01", "2026-01-31", domain.Segment{})
	if err != nil {
		t.Fatal(err)
	}
	days := func(from, to time.Time) float64 { return to.Sub(from).Hours() / 24 }
	d := w.Day
	// The January cohort is a, b, c and d. A step counts members who
	// reached it and every step before it.
	want := []struct {
		name        string
		members     int64
		prev, ofAll float64
		median      float64
		timed       int64
	}{
		{"joined", 4, 1, 1, 0, 0},
		{"welcomed", 4, 1, 1, 1.0 / 1440, 4},
		// a's profile was complete when they joined, before the welcome.
		{"profile_completed", 2, 0.5, 0.5, (0 + days(d("2026-01-13", "08:01"), d("2026-01-20", "12:00"))) / 2, 2},
		{"first_event", 1, 0.5, 0.25, days(d("2026-01-05", "18:00"), d("2026-01-14", "18:00")), 1},
		{"onboarded", 1, 1, 0.25, days(d("2026-01-14", "18:00"), d("2026-01-20", "10:00")), 1},
	}
	for i, s := range f.Steps {
		x := want[i]
		if s.Name != x.name || s.Members != x.members || !near(s.FromPrevious, x.prev) || !near(s.OfAll, x.ofAll) || !near(s.MedianDays, x.median) || s.Timed != x.timed {
			t.Errorf("step %d = %+v, want %+v", i, s, x)
		}
	}
	// a 9 days, b 7, d 37: median 9, 90th percentile between 9 and 37.
	if f.FirstEventMembers != 3 || !near(f.FirstEventMedian, 9) || !near(f.P90, 9+0.8*(37-9)) {
		t.Errorf("time to first event: %d members, median %v, p90 %v", f.FirstEventMembers, f.FirstEventMedian, f.P90)
	}
}
