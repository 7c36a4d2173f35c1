package domain

import (
	"math"
	"slices"
)

// Daily is one series' raw values for every day of a range: for levels,
// the level on the day; for counts, what happened on it. A ratio has a
// denominator too.
type Daily struct {
	From Day
	Num  []float64
	Den  []float64
}

// at is the index of d, clamped to the range.
func (s Daily) at(d Day) int { return min(max(int(d-s.From), 0), len(s.Num)-1) }

// Point is one period's value.
type Point struct {
	Period
	Value, Numerator, Denominator float64
	Samples                       int64
	// Partial: the period holds today.
	Partial bool
}

// Aggregate answers metric m for each period from its daily values,
// which cover the periods up to today. Days after today are not counted.
func Aggregate(m Metric, s Daily, periods []Period, today Day) []Point {
	out := make([]Point, 0, len(periods))
	for _, p := range periods {
		last := min(p.End, today)
		pt := Point{Period: p, Partial: p.End >= today}
		if last < p.Start || len(s.Num) == 0 {
			out = append(out, pt)
			continue
		}
		switch {
		case m.Kind == KindStock:
			pt.Value = s.Num[s.at(last)]
		case m.Kind == KindFlow:
			for d := p.Start; d <= last; d++ {
				pt.Value += s.Num[s.at(d)]
			}
		case m.Kind == KindRatio && m.LevelRatio:
			pt.Numerator, pt.Denominator = s.Num[s.at(last)], s.Den[s.at(last)]
			pt.Value = ratio(pt.Numerator, pt.Denominator)
		case m.Kind == KindRatio:
			for d := p.Start; d <= last; d++ {
				pt.Numerator += s.Num[s.at(d)]
				pt.Denominator += s.Den[s.at(d)]
			}
			pt.Value = ratio(pt.Numerator, pt.Denominator)
		}
		pt.Value = scale(m, pt.Value)
		out = append(out, pt)
	}
	return out
}

func scale(m Metric, v float64) float64 {
	if m.Scale != 0 {
		return v * m.Scale
	}
	return v
}

func ratio(num, den float64) float64 {
	if den == 0 {
		return 0
	}
	return num / den
}

// Sample is one duration (days) that ended on a day.
type Sample struct {
	Day   Day
	Value float64
}

// AggregateSamples answers a quantile metric for each period from the
// samples that ended in it.
func AggregateSamples(q float64, samples []Sample, periods []Period, today Day) []Point {
	out := make([]Point, 0, len(periods))
	for _, p := range periods {
		var vs []float64
		for _, s := range samples {
			if s.Day >= p.Start && s.Day <= min(p.End, today) {
				vs = append(vs, s.Value)
			}
		}
		out = append(out, Point{Period: p, Partial: p.End >= today, Value: Quantile(vs, q), Samples: int64(len(vs))})
	}
	return out
}

// Quantile is the q-quantile of vs, interpolating linearly between the
// closest ranks (so the median of an even count is the mean of the middle
// two); 0 for none.
func Quantile(vs []float64, q float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// GoalValues are a goal's value on each day of s's range: a level on the
// day; a count summed from baseline; a share or mean over the 30 days up
// to the day.
func GoalValues(m Metric, s Daily, baseline Day) []float64 {
	out := make([]float64, len(s.Num))
	var run float64
	for i := range s.Num {
		d := s.From + Day(i)
		switch {
		case m.Kind == KindStock:
			out[i] = s.Num[i]
		case m.Kind == KindFlow:
			if d >= baseline {
				run += s.Num[i]
			}
			out[i] = run
		case m.Kind == KindRatio && m.LevelRatio:
			out[i] = ratio(s.Num[i], s.Den[i])
		case m.Kind == KindRatio:
			var num, den float64
			for j := max(0, i-ActiveWindow+1); j <= i; j++ {
				num += s.Num[j]
				den += s.Den[j]
			}
			out[i] = ratio(num, den)
		}
		out[i] = scale(m, out[i])
	}
	return out
}
