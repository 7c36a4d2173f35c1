package domain

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// ContributionKind is what a partner gave.
type ContributionKind string

// Kinds of contribution.
const (
	ContributionMoney     ContributionKind = "money"
	ContributionInKind    ContributionKind = "in_kind"
	ContributionVenue     ContributionKind = "venue"
	ContributionVolunteer ContributionKind = "volunteer_hours"
)

// ContributionKinds lists every kind.
func ContributionKinds() []ContributionKind {
	return []ContributionKind{ContributionMoney, ContributionInKind, ContributionVenue, ContributionVolunteer}
}

// MaxVolunteerMinutes bounds the volunteer time of one contribution.
const MaxVolunteerMinutes = 100_000

// Contribution is one thing a partner gave.
type Contribution struct {
	ID          string
	Community   string
	PartnerID   string
	Kind        ContributionKind
	Date        Date
	Description string
	// Value is zero when the contribution has none.
	Value            Money
	VolunteerMinutes int64
	EventID          string
	Goal             string
	// MemberID is the member who made it, if any.
	MemberID   string
	RecordedAt time.Time
	RecordedBy string
}

// ContributionInput is what an organiser submits about a contribution.
type ContributionInput struct {
	PartnerID        string
	Kind             ContributionKind
	Date             string
	Description      string
	Value            Money
	VolunteerMinutes int64
	EventID          string
	Goal             string
	MemberID         string
}

// NewContribution validates in: money needs a positive value; in-kind a
// description and a positive value; a venue may have a value; volunteer
// hours need minutes and carry no value. The date may not lie after
// today. Every invalid field is reported at once.
func NewContribution(community string, in ContributionInput, id, recordedBy string, now time.Time) (Contribution, error) {
	var errs validate.Errors
	add := func(ferr *validate.FieldError) {
		if ferr != nil {
			errs = append(errs, ferr)
		}
	}
	c := Contribution{ID: id, Community: community, Kind: in.Kind, VolunteerMinutes: in.VolunteerMinutes, RecordedBy: recordedBy,
		RecordedAt: now.UTC().Truncate(time.Microsecond)}
	var ferr *validate.FieldError
	c.PartnerID, ferr = ValidateID("partner_id", in.PartnerID, true)
	add(ferr)
	if !slices.Contains(ContributionKinds(), in.Kind) {
		add(validate.Field("kind", "must be money, in_kind, venue or volunteer_hours"))
	}
	c.Date, ferr = ParseDate("date", in.Date)
	switch {
	case ferr != nil:
		add(ferr)
	case c.Date.IsZero():
		add(validate.Field("date", "is required"))
	case c.Date.After(DateOf(now)):
		add(validate.Field("date", "lies in the future"))
	}
	c.Description, ferr = validate.Text("description", in.Description, 0, 500)
	add(ferr)
	if in.Kind == ContributionInKind && ferr == nil && c.Description == "" {
		add(validate.Field("description", "is required for an in-kind contribution: say what was given"))
	}
	switch in.Kind {
	case ContributionMoney, ContributionInKind:
		if in.Value.IsZero() {
			add(validate.Field("value", "is required for a %s contribution", in.Kind))
			break
		}
		var verrs validate.Errors
		c.Value, verrs = ValidateMoney("value", in.Value, true)
		errs = append(errs, verrs...)
	case ContributionVenue:
		if !in.Value.IsZero() {
			var verrs validate.Errors
			c.Value, verrs = ValidateMoney("value", in.Value, false)
			errs = append(errs, verrs...)
		}
	case ContributionVolunteer:
		if !in.Value.IsZero() {
			add(validate.Field("value", "is not given for volunteer hours; record the time in volunteer_minutes"))
		}
	}
	switch {
	case in.Kind == ContributionVolunteer && (in.VolunteerMinutes < 1 || in.VolunteerMinutes > MaxVolunteerMinutes):
		add(validate.Field("volunteer_minutes", "must be between 1 and %d for volunteer hours", MaxVolunteerMinutes))
	case in.Kind != ContributionVolunteer && in.VolunteerMinutes != 0:
		add(validate.Field("volunteer_minutes", "is only given for volunteer hours"))
	}
	c.EventID, ferr = ValidateID("event_id", in.EventID, false)
	add(ferr)
	if in.Goal != "" {
		c.Goal, ferr = validate.Slug("goal", in.Goal, validate.MaxCommunityLength)
		add(ferr)
	}
	c.MemberID, ferr = ValidateID("member_id", in.MemberID, false)
	add(ferr)
	if err := errs.Err(); err != nil {
		return Contribution{}, err
	}
	return c, nil
}

// GroupBy is what contribution totals are grouped by.
type GroupBy string

// Groupings of contribution totals.
const (
	ByPartner GroupBy = "partner"
	ByPeriod  GroupBy = "period"
	ByGoal    GroupBy = "goal"
)

// Period is the length of a period contributions are grouped into.
type Period string

// Periods.
const (
	PeriodMonth   Period = "month"
	PeriodQuarter Period = "quarter"
	PeriodYear    Period = "year"
)

// PeriodKey names the period of p that d falls in: "2026-03", "2026-Q1"
// or "2026". Keys sort in time order.
func PeriodKey(d Date, p Period) string {
	t := d.Time()
	switch p {
	case PeriodMonth:
		return t.Format("2006-01")
	case PeriodQuarter:
		return fmt.Sprintf("%04d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
	}
	return fmt.Sprintf("%04d", t.Year())
}

// ContributionSum is the store's sum of contributions sharing a partner,
// goal, day, kind and currency.
type ContributionSum struct {
	PartnerID        string
	Goal             string
	Date             Date
	Kind             ContributionKind
	Currency         string // empty when the contributions carry no value
	AmountMinor      int64
	Count            int64
	VolunteerMinutes int64
}

// ContributionGroup is the totals of one partner, period or goal.
type ContributionGroup struct {
	Key              string
	Label            string
	Count            int64
	Money            Totals // money given
	InKind           Totals // the value of goods, services and venues
	Total            Totals // both
	VolunteerMinutes int64
}

func newGroup(key, label string) *ContributionGroup {
	return &ContributionGroup{Key: key, Label: label, Money: Totals{}, InKind: Totals{}, Total: Totals{}}
}

func (g *ContributionGroup) add(s ContributionSum) error {
	g.Count += s.Count
	g.VolunteerMinutes += s.VolunteerMinutes
	if s.Currency == "" {
		return nil
	}
	bucket := g.InKind
	if s.Kind == ContributionMoney {
		bucket = g.Money
	}
	if err := bucket.Add(s.Currency, s.AmountMinor); err != nil {
		return err
	}
	return g.Total.Add(s.Currency, s.AmountMinor)
}

// GroupContributions folds sums into groups by partner (labelled with
// names, sorted by label), period (in time order) or goal (sorted; the
// empty goal, "no goal", last), and the overall totals. Amounts stay per
// currency; a sum too large for int64 is an error, never a wrong number.
func GroupContributions(sums []ContributionSum, by GroupBy, period Period, names map[string]string) ([]ContributionGroup, ContributionGroup, error) {
	groups := map[string]*ContributionGroup{}
	overall := newGroup("", "overall")
	for _, s := range sums {
		var key, label string
		switch by {
		case ByPartner:
			key, label = s.PartnerID, cmp.Or(names[s.PartnerID], s.PartnerID)
		case ByPeriod:
			key = PeriodKey(s.Date, period)
			label = key
		default:
			key, label = s.Goal, cmp.Or(s.Goal, "no goal")
		}
		g, ok := groups[key]
		if !ok {
			g = newGroup(key, label)
			groups[key] = g
		}
		if err := g.add(s); err != nil {
			return nil, ContributionGroup{}, err
		}
		if err := overall.add(s); err != nil {
			return nil, ContributionGroup{}, err
		}
	}
	out := make([]ContributionGroup, 0, len(groups))
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		out = append(out, *groups[k])
	}
	switch by {
	case ByPartner:
		slices.SortStableFunc(out, func(a, b ContributionGroup) int { return cmp.Compare(a.Label, b.Label) })
	case ByGoal:
		slices.SortStableFunc(out, func(a, b ContributionGroup) int {
			return cmp.Or(cmp.Compare(boolRank(a.Key == ""), boolRank(b.Key == "")), cmp.Compare(a.Key, b.Key))
		})
	}
	return out, *overall, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
