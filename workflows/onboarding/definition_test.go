package onboarding

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

func TestTheDefaultDefinitionIsValid(t *testing.T) {
	d := DefaultDefinition()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, s := range d.Steps {
		types = append(types, s.Type)
	}
	if !slices.Equal(types, StepTypes()) {
		t.Errorf("default steps %v", types)
	}
}

func TestDefinitionValidationNamesTheField(t *testing.T) {
	h := Duration(time.Hour)
	tests := []struct {
		name string
		def  Definition
		want []string // fields
	}{
		{"no steps", Definition{}, []string{"steps"}},
		{"unknown type", Definition{Steps: []Step{{Type: StepWelcome}, {Type: "dance"}}}, []string{"steps[1].type"}},
		{"a type twice", Definition{Steps: []Step{{Type: StepWelcome}, {Type: StepWelcome}}}, []string{"steps[1].type"}},
		{"reminders on a step that does not wait", Definition{Steps: []Step{{Type: StepWelcome, Reminders: []Duration{h}}}}, []string{"steps[0].reminders"}},
		{"wait on a step that does not wait", Definition{Steps: []Step{{Type: StepAssignBuddy, Wait: h}}}, []string{"steps[0].wait"}},
		{"limit elsewhere", Definition{Steps: []Step{{Type: StepWelcome, Limit: 2}}}, []string{"steps[0].limit"}},
		{"limit too high", Definition{Steps: []Step{{Type: StepSuggestEvent, Limit: 11}}}, []string{"steps[0].limit"}},
		{"reminders out of order", Definition{Steps: []Step{{Type: StepCompleteProfile, Reminders: []Duration{2 * h, h}, Wait: 3 * h}}}, []string{"steps[0].reminders[1]"}},
		{"reminder after the wait", Definition{Steps: []Step{{Type: StepFirstAttendance, Reminders: []Duration{4 * h}, Wait: 3 * h}}}, []string{"steps[0].reminders[0]"}},
		{"negative reminder", Definition{Steps: []Step{{Type: StepCompleteProfile, Reminders: []Duration{-h}}}}, []string{"steps[0].reminders[0]"}},
		{"wait too long", Definition{Steps: []Step{{Type: StepCompleteProfile, Wait: Duration(2 * MaxWait)}}}, []string{"steps[0].wait"}},
		{"too many reminders", Definition{Steps: []Step{{Type: StepCompleteProfile, Reminders: []Duration{h, 2 * h, 3 * h, 4 * h, 5 * h, 6 * h}, Wait: 10 * h}}}, []string{"steps[0].reminders"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.def.Validate()
			var got []string
			for _, f := range validate.FieldErrors(err) {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}

func TestAnUnknownStepTypeErrorListsTheKnownOnes(t *testing.T) {
	err := Definition{Steps: []Step{{Type: "dance"}}}.Validate()
	if err == nil || !strings.Contains(err.Error(), `"dance" is not a step type`) || !strings.Contains(err.Error(), StepFirstAttendance) {
		t.Errorf("error = %v", err)
	}
}

func TestDefinitionsReadDurationsAsText(t *testing.T) {
	raw := `{"steps":[{"type":"welcome"},{"type":"complete-profile","reminders":["24h","72h"],"wait":"96h"}]}`
	var d Definition
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	if d.Steps[1].Reminders[1].Std() != 72*time.Hour || d.Steps[1].Wait.Std() != 96*time.Hour {
		t.Errorf("read %+v", d)
	}
	out, err := json.Marshal(d)
	if err != nil || !strings.Contains(string(out), `"wait":"96h0m0s"`) {
		t.Errorf("wrote %s, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"steps":[{"type":"welcome","wait":12}]}`), &d); err == nil {
		t.Error("a number was taken for a duration")
	}
}

func TestProfileTimingTunesTheDefaultJourney(t *testing.T) {
	d := DefaultDefinition().WithProfileTiming(time.Minute, time.Hour)
	s := d.Steps[1]
	if !slices.Equal(s.Reminders, []Duration{Duration(time.Minute), Duration(150 * time.Second)}) || s.Wait.Std() != time.Hour {
		t.Errorf("tuned step %+v", s)
	}
	if err := d.Validate(); err != nil {
		t.Error(err)
	}
	// A wait shorter than the reminders drops them rather than failing.
	short := DefaultDefinition().WithProfileTiming(0, time.Hour)
	if len(short.Steps[1].Reminders) != 0 || short.Validate() != nil {
		t.Errorf("short wait %+v", short.Steps[1])
	}
	if len(DefaultDefinition().Steps[1].Reminders) != 2 {
		t.Error("tuning changed the default itself")
	}
}
