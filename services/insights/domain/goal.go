package domain

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Goal sources.
const (
	SourceAPI      = "api"
	SourceResource = "resource"
)

// GoalSpec is what an organiser sets for a goal.
type GoalSpec struct {
	Name           string
	Metric         string
	Segment        Segment
	BreakdownValue string
	Target         float64
	// Deadline is the day to reach the target by; HasDeadline false for
	// none.
	Deadline    Day
	HasDeadline bool
	Baseline    Day
	Description string
}

// Goal is a goal as stored.
type Goal struct {
	Community string
	GoalSpec
	Source     string
	Archived   bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ArchivedAt time.Time
}

// Goal errors.
var (
	ErrGoalNotFound = errors.New("no goal of that name in the community")
	ErrGoalExists   = errors.New("a goal of that name exists")
	// ErrManaged: a goal the Community resource names is changed there.
	ErrManaged = errors.New("the goal is the Community resource's: change spec.goals instead")
)

// MaxGoalsPerSync bounds the goals a resource names (the CRD's bound).
const MaxGoalsPerSync = 20

// GoalRules are what a goal is checked against: today and the first day
// the series answer.
type GoalRules struct {
	Today, FirstDay Day
}

// CheckName checks a goal name given as field.
func CheckName(field, name string) (string, *validate.FieldError) {
	return validate.Slug(field, name, 63)
}

// Check validates spec (fields named under prefix, such as "goal.") and
// fills the baseline; the metric is returned too.
func (spec GoalSpec) Check(prefix string, r GoalRules) (GoalSpec, Metric, error) {
	var errs validate.Errors
	name, ferr := CheckName(prefix+"name", spec.Name)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	spec.Name = name
	m, ok := Lookup(spec.Metric)
	if !ok {
		errs = append(errs, validate.Field(prefix+"metric", "is not a metric of the catalogue (ListMetrics lists them)"))
	}
	seg, serrs := spec.Segment.Normalise(prefix + "segment")
	errs = append(errs, serrs...)
	spec.Segment = seg
	if ok {
		if !seg.Empty() && !m.Segmentable {
			errs = append(errs, validate.Field(prefix+"segment", "cannot filter %s", m.Name))
		}
		switch {
		case m.Breakdown == "" && spec.BreakdownValue != "":
			errs = append(errs, validate.Field(prefix+"breakdown_value", "must be empty: %s has no breakdown", m.Name))
		case m.NoTotal && spec.BreakdownValue == "":
			errs = append(errs, validate.Field(prefix+"breakdown_value", "must name one %s of %s", m.Breakdown, m.Name))
		case len(spec.BreakdownValue) > 40:
			errs = append(errs, validate.Field(prefix+"breakdown_value", "must be at most 40 characters"))
		}
		errs = append(errs, checkTarget(prefix+"target", m, spec.Target)...)
	}
	if spec.Baseline == 0 {
		spec.Baseline = r.Today
	}
	switch {
	case spec.Baseline > r.Today:
		errs = append(errs, validate.Field(prefix+"baseline_date", "must not be in the future"))
	case spec.Baseline < r.FirstDay:
		errs = append(errs, validate.Field(prefix+"baseline_date", "must not be before %s: the series keep no older days", r.FirstDay))
	}
	if spec.HasDeadline {
		switch {
		case spec.Deadline < r.Today:
			errs = append(errs, validate.Field(prefix+"deadline", "must not be in the past"))
		case spec.Deadline <= spec.Baseline:
			errs = append(errs, validate.Field(prefix+"deadline", "must be after the baseline date"))
		}
	}
	desc, ferr := validate.Text(prefix+"description", spec.Description, 0, 500)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	spec.Description = desc
	return spec, m, errs.Err()
}

func checkTarget(field string, m Metric, t float64) validate.Errors {
	switch {
	case math.IsNaN(t) || math.IsInf(t, 0):
		return validate.Errors{validate.Field(field, "must be a number")}
	case m.Better == Up && t <= 0:
		return validate.Errors{validate.Field(field, "must be above 0")}
	case t < 0:
		return validate.Errors{validate.Field(field, "must not be negative")}
	case m.Share && t > 1:
		return validate.Errors{validate.Field(field, "must be at most 1: %s is a share", m.Name)}
	case m.Max > 0 && t > m.Max:
		return validate.Errors{validate.Field(field, "must be at most %g", m.Max)}
	}
	return nil
}

// Status is where a goal stands.
type Status string

// Statuses.
const (
	OnTrack  Status = "on_track"
	AtRisk   Status = "at_risk"
	OffTrack Status = "off_track"
	Achieved Status = "achieved"
	Missed   Status = "missed"
	Archived Status = "archived"
)

// Reason is the status in one word, for Kubernetes conditions.
func (s Status) Reason() string {
	var b strings.Builder
	for _, w := range strings.Split(string(s), "_") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// TrendDays is how many days the trend is fitted over.
const TrendDays = 28

// AtRiskShare is how much of the way the forecast must cover for a goal
// falling short to be at risk rather than off track.
const AtRiskShare = 0.8

// Progress is where a goal stands, with the numbers behind it.
type Progress struct {
	Status      Status
	AsOf        Day
	Current     float64
	Baseline    float64
	Target      float64
	Progress    float64
	Trend       float64
	Forecast    float64
	HasForecast bool
	DaysLeft    int
	Message     string
}

// Evaluate says where goal g on metric m stands today. values are the
// goal's values (GoalValues) for days from..to, covering the baseline,
// the trend window and the deadline when it has passed (to is today or
// later).
func Evaluate(g Goal, m Metric, from Day, values []float64, today Day) Progress {
	at := func(d Day) float64 {
		i := int(d - from)
		if i < 0 || len(values) == 0 {
			return 0
		}
		return values[min(i, len(values)-1)]
	}
	p := Progress{Target: g.Target, AsOf: today}
	if g.Archived {
		p.Status = Archived
		p.Message = "archived"
		return p
	}
	if m.Kind != KindFlow {
		p.Baseline = at(g.Baseline)
	}
	if g.HasDeadline && today > g.Deadline {
		p.AsOf = g.Deadline
	}
	p.Current = at(p.AsOf)
	p.Progress = progress(p.Current, p.Baseline, p.Target, m.Better)
	start := max(g.Baseline, p.AsOf-TrendDays+1)
	var xs, ys []float64
	for d := start; d <= p.AsOf; d++ {
		xs, ys = append(xs, float64(d-start)), append(ys, at(d))
	}
	p.Trend = slope(xs, ys)
	reached := func(v float64) bool {
		if m.Better == Down {
			return v <= p.Target
		}
		return v >= p.Target
	}
	if g.HasDeadline {
		p.DaysLeft = int(g.Deadline - p.AsOf)
	}
	// A ceiling (lower is better, and the target is no lower than the
	// baseline, such as "at most 10 leavers") is only met at its deadline;
	// until then its forecast decides.
	ceiling := m.Better == Down && p.Target >= p.Baseline
	switch {
	case g.HasDeadline && today > g.Deadline && reached(p.Current):
		p.Status = Achieved
	case g.HasDeadline && today > g.Deadline:
		p.Status = Missed
	case reached(p.Current) && !ceiling:
		p.Status = Achieved
	case g.HasDeadline:
		p.Forecast, p.HasForecast = p.Current+p.Trend*float64(p.DaysLeft), true
		switch {
		case reached(p.Forecast):
			p.Status = OnTrack
		case ceiling && p.Forecast <= p.Target/AtRiskShare:
			p.Status = AtRisk
		case !ceiling && progress(p.Forecast, p.Baseline, p.Target, m.Better) >= AtRiskShare:
			p.Status = AtRisk
		default:
			p.Status = OffTrack
		}
	case ceiling && reached(p.Current):
		p.Status = OnTrack
	case ceiling:
		p.Status = OffTrack
	default:
		toward := p.Target - p.Current
		switch {
		case p.Trend == 0:
			p.Status = AtRisk
		case (toward > 0) == (p.Trend > 0):
			p.Status = OnTrack
		default:
			p.Status = OffTrack
		}
	}
	p.Message = message(g, m, p)
	return p
}

// progress is the share of the way from baseline to target that v covers.
func progress(v, baseline, target float64, better Direction) float64 {
	if target == baseline {
		if (better == Down && v <= target) || (better != Down && v >= target) {
			return 1
		}
		return 0
	}
	return (v - baseline) / (target - baseline)
}

// slope fits y = a + b·x by least squares and returns b; 0 for fewer
// than two points.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// FormatValue writes v for people: whole numbers without decimals,
// shares as percentages.
func FormatValue(m Metric, v float64) string {
	switch {
	case m.Share:
		return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func message(g Goal, m Metric, p Progress) string {
	f := func(v float64) string { return FormatValue(m, v) }
	by := ""
	if g.HasDeadline {
		by = " by " + g.Deadline.String()
	}
	head := fmt.Sprintf("%s is %s (baseline %s, target %s%s)", m.Name, f(p.Current), f(p.Baseline), f(p.Target), by)
	trend := fmt.Sprintf("%+.2f a day over the last %d days", p.Trend, TrendDays)
	switch p.Status {
	case Achieved:
		return head + ": achieved"
	case Missed:
		return fmt.Sprintf("%s on the deadline: missed", head)
	case OnTrack, AtRisk, OffTrack:
		if p.HasForecast {
			return fmt.Sprintf("%s; at %s it reaches %s by the deadline: %s", head, trend, f(p.Forecast), strings.ReplaceAll(string(p.Status), "_", " "))
		}
		return fmt.Sprintf("%s; %s: %s", head, trend, strings.ReplaceAll(string(p.Status), "_", " "))
	}
	return head
}
