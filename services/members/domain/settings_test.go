package domain

import (
	"slices"
	"testing"
)

func TestNextLevel(t *testing.T) {
	s := DefaultSettings("demo") // Observer 0, Participant 5, Contributor 20, Core 50
	tests := []struct {
		name          string
		current       string
		score         int
		staff, review bool
		want          string
	}{
		{"new member starts at the bottom", "", 0, false, false, "Observer"},
		{"upgrade applies at once", "Observer", 21, false, false, "Contributor"},
		{"upgrade skips levels", "Observer", 60, false, false, "Core"},
		{"downgrade waits for the review", "Core", 3, false, false, "Core"},
		{"downgrade applies at the review", "Core", 3, false, true, "Observer"},
		{"review keeps a deserved level", "Contributor", 25, false, true, "Contributor"},
		{"staff have no level", "Core", 100, true, false, ""},
		{"staff stay levelless at review", "", 100, true, true, ""},
		{"a level removed from the settings is replaced", "Champion", 6, false, false, "Participant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.NextLevel(tt.current, tt.score, tt.staff, tt.review); got != tt.want {
				t.Errorf("NextLevel(%q, %d, staff=%v, review=%v) = %q, want %q", tt.current, tt.score, tt.staff, tt.review, got, tt.want)
			}
		})
	}
}

func TestScoreFollowsWeights(t *testing.T) {
	s := DefaultSettings("demo")
	counts := map[ActivityKey]int{{Type: ActivityAttendedEvent}: 2, {Type: ActivityRSVP}: 3, {Type: "retired_type"}: 10}
	if got := s.Score(counts); got != 2*5+3*1 {
		t.Errorf("Score = %d, want 13 (unknown types weigh nothing)", got)
	}
	s.Weights[ActivityRSVP] = 4
	if got := s.Score(counts); got != 2*5+3*4 {
		t.Errorf("Score after a weight change = %d, want 22", got)
	}
	// An activity source's weight counts for whatever it brings in; a
	// source without one counts by the type.
	s.SourceWeights = map[string]int{"forum": 2}
	counts = map[ActivityKey]int{{Type: ActivityPosted, Source: "forum"}: 3, {Type: ActivityPosted, Source: "code"}: 4, {Type: "commented", Source: "forum"}: 1}
	if got := s.Score(counts); got != 3*2+4*1+1*2 {
		t.Errorf("Score with source weights = %d, want 12", got)
	}
}

func TestWhatMayBeRecorded(t *testing.T) {
	s := DefaultSettings("demo")
	s.Weights = map[string]int{"posted": 1}
	s.SourceWeights = map[string]int{"forum": 1}
	tests := []struct {
		typ, source string
		want        bool
	}{
		{"posted", "", true},
		{ActivityGaveFeedback, "", true}, // Kinship records it even without a weight
		{ActivityHostedEvent, "", true},
		{"commented", "forum", true}, // anything a weighed source brings
		{"commented", "", false},
		{"commented", "code", false}, // a source without a weight
		{"Not A Type", "forum", false},
	}
	for _, tt := range tests {
		if got := s.Counts(tt.typ, tt.source); got != tt.want {
			t.Errorf("Counts(%q, %q) = %v, want %v", tt.typ, tt.source, got, tt.want)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	ok := DefaultSettings("demo")
	ok.Interests = []string{"solar", "climate", "solar"}
	got, err := ok.Validate()
	if err != nil || !slices.Equal(got.Interests, []string{"climate", "solar"}) {
		t.Fatalf("Validate = %+v, %v", got, err)
	}
	tests := map[string]func(*Settings){
		"no zero level":       func(s *Settings) { s.Levels = []LevelThreshold{{"A", 1}} },
		"descending levels":   func(s *Settings) { s.Levels = []LevelThreshold{{"A", 0}, {"B", 10}, {"C", 5}} },
		"duplicate level":     func(s *Settings) { s.Levels = []LevelThreshold{{"A", 0}, {"A", 10}} },
		"negative weight":     func(s *Settings) { s.Weights["posted"] = -1 },
		"bad activity type":   func(s *Settings) { s.Weights["Bad Type"] = 1 },
		"no activity types":   func(s *Settings) { s.Weights = nil },
		"zero window":         func(s *Settings) { s.WindowDays = 0 },
		"bad vocabulary word": func(s *Settings) { s.Skills = []string{"Web Design"} },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			s := DefaultSettings("demo")
			mutate(&s)
			if _, err := s.Validate(); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestCurrentConsentsFollowTheLedger(t *testing.T) {
	ledger := []ConsentRecord{
		{Purpose: PurposeAnnouncements, Granted: true},
		{Purpose: PurposeDigest, Granted: true},
		{Purpose: PurposeAnnouncements, Granted: false},
	}
	got := map[string]bool{}
	for _, st := range CurrentConsents(ledger) {
		got[st.Purpose] = st.Granted
	}
	want := map[string]bool{PurposeTransactional: true, PurposeAnnouncements: false, PurposeDigest: true, PurposeAnalytics: false, PurposeVisibleProfiles: false}
	for p, g := range want {
		if got[p] != g {
			t.Errorf("%s = %v, want %v", p, got[p], g)
		}
	}
	if _, err := NewConsentRecord("m1", PurposeTransactional, false, "form", "v1", nowForTest()); err == nil {
		t.Error("withdrawing transactional e-mail accepted")
	}
	if _, err := NewConsentRecord("m1", "marketing", true, "form", "v1", nowForTest()); err == nil {
		t.Error("unknown purpose accepted")
	}
}
