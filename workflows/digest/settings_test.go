package digest

import (
	"testing"
	"time"
)

func TestParseSettings(t *testing.T) {
	for spec, want := range map[string]Settings{
		"":                           DefaultSettings(),
		"off":                        {Off: true, Day: time.Monday, Hour: 9, TimeZone: "UTC", Template: DefaultTemplate},
		"OFF":                        {Off: true, Day: time.Monday, Hour: 9, TimeZone: "UTC", Template: DefaultTemplate},
		"fri":                        {Day: time.Friday, Hour: 9, TimeZone: "UTC", Template: DefaultTemplate},
		"sun 18:30":                  {Day: time.Sunday, Hour: 18, Minute: 30, TimeZone: "UTC", Template: DefaultTemplate},
		"Tue 07:05 Europe/Berlin":    {Day: time.Tuesday, Hour: 7, Minute: 5, TimeZone: "Europe/Berlin", Template: DefaultTemplate},
		"  wed   12:00   Asia/Tokyo": {Day: time.Wednesday, Hour: 12, TimeZone: "Asia/Tokyo", Template: DefaultTemplate},
	} {
		got, err := ParseSettings(spec)
		if err != nil || got != want {
			t.Errorf("ParseSettings(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, bad := range []string{"monday-ish", "mon 9", "mon 24:00", "mon 09:60", "mon 09:00 Mars/Olympus", "mon 09:00 UTC extra"} {
		if _, err := ParseSettings(bad); err == nil {
			t.Errorf("ParseSettings(%q) accepted", bad)
		}
	}
}

func TestDefaultSettingsAreValid(t *testing.T) {
	if err := DefaultSettings().Validate(); err != nil {
		t.Fatal(err)
	}
	s := DefaultSettings()
	s.Template = ""
	if s.Validate() == nil {
		t.Error("settings without a template were accepted")
	}
}
