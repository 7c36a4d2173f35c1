package eventlifecycle

import (
	"testing"
	"time"
)

func TestMovedKeepsWhatStillHolds(t *testing.T) {
	s := Settings{}.withDefaults()
	o := occ("o1", 72*time.Hour, time.Hour)
	done := planOccurrence(o, s, t0)
	for i := range done.Steps {
		done.Steps[i].State, done.Steps[i].Count = StateDone, 3
	}
	states := func(p OccurrencePlan) []string {
		var out []string
		for _, st := range p.Steps {
			out = append(out, st.State)
		}
		return out
	}
	for name, tc := range map[string]struct {
		to   Occurrence
		now  time.Time
		want []string
	}{
		"same times: nothing changes": {o, t0, []string{StateDone, StateDone, StateDone, StateDone}},
		"a later end: reminders of the same start stay sent": {Occurrence{ID: "o1", Start: o.Start, End: o.End.Add(time.Hour)}, t0,
			[]string{StateDone, StateDone, StateDone, StateDone}},
		"a new start: members are reminded again": {Occurrence{ID: "o1", Start: o.Start.Add(48 * time.Hour), End: o.End.Add(48 * time.Hour)}, t0,
			[]string{StatePending, StatePending, StateDone, StateDone}},
		"a new start too soon for the 24 h reminder": {Occurrence{ID: "o1", Start: t0.Add(5 * time.Hour), End: t0.Add(6 * time.Hour)}, t0,
			[]string{StateSkipped, StatePending, StateDone, StateDone}},
	} {
		t.Run(name, func(t *testing.T) {
			got := done.moved(tc.to, s, tc.now)
			if g := states(got); len(g) != len(tc.want) || g[0] != tc.want[0] || g[1] != tc.want[1] || g[2] != tc.want[2] || g[3] != tc.want[3] {
				t.Errorf("states = %v, want %v", g, tc.want)
			}
			if !got.Start.Equal(tc.to.Start) || !got.End.Equal(tc.to.End) {
				t.Errorf("times = %v–%v, want %v–%v", got.Start, got.End, tc.to.Start, tc.to.End)
			}
		})
	}
}

func TestSettingsDefaultsAndValidation(t *testing.T) {
	s := Settings{}.withDefaults()
	if len(s.ReminderOffsets) != 2 || s.ReminderOffsets[0] != 24*time.Hour || s.ReminderOffsets[1] != time.Hour ||
		s.NoShowsAfter != 2*time.Hour || s.FeedbackAfter != time.Hour || s.MaxHistoryEvents != DefaultMaxHistoryEvents {
		t.Errorf("defaults = %+v", s)
	}
	for _, bad := range []Settings{{FeedbackAfter: -time.Second}, {ReminderOffsets: []time.Duration{0}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestDurationsInMessagesAndKeys(t *testing.T) {
	for d, want := range map[time.Duration][2]string{
		24 * time.Hour:   {"24 hours", "24h"},
		time.Hour:        {"1 hour", "1h"},
		90 * time.Minute: {"90 minutes", "90m"},
		time.Minute:      {"1 minute", "1m"},
		5 * time.Second:  {"5 seconds", "5s"},
	} {
		if got := [2]string{humanDuration(d), shortDuration(d)}; got != want {
			t.Errorf("%v reads %v, want %v", d, got, want)
		}
	}
}
