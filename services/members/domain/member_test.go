package domain

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

func validRequest() JoinRequest {
	return JoinRequest{Community: "demo", EmailConsent: true, Profile: Profile{
		Email: " Ada@Example.org", DisplayName: " Ada Lovelace ", Interests: []string{"solar", "climate", "solar"},
	}}
}

func fields(err error) []string {
	var out []string
	for _, fe := range validate.FieldErrors(err) {
		out = append(out, fe.Field)
	}
	return out
}

func TestNewMemberNormalisesValidInput(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	req := validRequest()
	req.Vouched = true
	m, err := NewMember(req, DefaultSettings("demo"), "id-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Email != "ada@example.org" || m.DisplayName != "Ada Lovelace" || !slices.Equal(m.Interests, []string{"climate", "solar"}) {
		t.Errorf("NewMember = %+v", m)
	}
	if m.Status != StatusActive || !m.EmailConsent || m.ID != "id-1" || m.JoinedAt.Location() != time.UTC || !m.JoinedAt.Equal(now) {
		t.Errorf("NewMember = %+v", m)
	}
	if m.Level != "Observer" || m.Source.Kind != SourceOrganic {
		t.Errorf("new member level %q source %q, want Observer and organic", m.Level, m.Source.Kind)
	}
}

func TestNewMemberNamesEveryInvalidField(t *testing.T) {
	vocab := DefaultSettings("demo")
	vocab.Interests = []string{"climate", "solar"}
	tests := []struct {
		name     string
		mutate   func(*JoinRequest)
		settings Settings
		fields   []string
	}{
		{"invalid email", func(r *JoinRequest) { r.Profile.Email = "not-an-address" }, DefaultSettings("demo"), []string{"email"}},
		{"empty display name", func(r *JoinRequest) { r.Profile.DisplayName = "" }, DefaultSettings("demo"), []string{"display_name"}},
		{"10 KB display name", func(r *JoinRequest) { r.Profile.DisplayName = strings.Repeat("x", 10<<10) }, DefaultSettings("demo"), []string{"display_name"}},
		{"missing community", func(r *JoinRequest) { r.Community = "" }, DefaultSettings("demo"), []string{"community"}},
		{"malformed community", func(r *JoinRequest) { r.Community = "Demo Community" }, DefaultSettings("demo"), []string{"community"}},
		{"bad interest tag", func(r *JoinRequest) { r.Profile.Interests = []string{"Solar Power"} }, DefaultSettings("demo"), []string{"interests"}},
		{"interest outside the vocabulary", func(r *JoinRequest) { r.Profile.Interests = []string{"knitting"} }, vocab, []string{"interests"}},
		{"too many interests", func(r *JoinRequest) {
			r.Profile.Interests = nil
			for i := range MaxTags + 1 {
				r.Profile.Interests = append(r.Profile.Interests, fmt.Sprintf("tag-%d", i))
			}
		}, DefaultSettings("demo"), []string{"interests"}},
		{"unknown time zone", func(r *JoinRequest) { r.Profile.TimeZone = "Mars/Olympus_Mons" }, DefaultSettings("demo"), []string{"time_zone"}},
		{"Local is no zone", func(r *JoinRequest) { r.Profile.TimeZone = "Local" }, DefaultSettings("demo"), []string{"time_zone"}},
		{"bad country code", func(r *JoinRequest) { r.Profile.Location.CountryCode = "XX" }, DefaultSettings("demo"), []string{"location.country_code"}},
		{"three-letter country", func(r *JoinRequest) { r.Profile.Location.CountryCode = "DEU" }, DefaultSettings("demo"), []string{"location.country_code"}},
		{"bad locale", func(r *JoinRequest) { r.Profile.Locale = "not a locale!" }, DefaultSettings("demo"), []string{"locale"}},
		{"oversize motivation", func(r *JoinRequest) { r.Profile.Motivation = strings.Repeat("why ", 300) }, DefaultSettings("demo"), []string{"motivation"}},
		{"negative availability", func(r *JoinRequest) { r.Profile.AvailabilityHours = -1 }, DefaultSettings("demo"), []string{"availability_hours_per_month"}},
		{"referral without referrer", func(r *JoinRequest) { r.Source = Source{Kind: SourceReferral} }, DefaultSettings("demo"), []string{"source.referrer_id"}},
		{"several at once", func(r *JoinRequest) { r.Profile.Email = ""; r.Profile.DisplayName = "" }, DefaultSettings("demo"), []string{"email", "display_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := validRequest()
			tt.mutate(&req)
			_, err := NewMember(req, tt.settings, "id-1", time.Now())
			if got := fields(err); !slices.Equal(got, tt.fields) {
				t.Errorf("invalid fields = %v (%v), want %v", got, err, tt.fields)
			}
		})
	}
}

func TestProfileNormalisesOptionalFields(t *testing.T) {
	p, err := Profile{Email: "a@example.org", DisplayName: "A", Locale: "de-de", TimeZone: "Europe/Berlin",
		Location: Location{City: " Berlin ", CountryCode: "de"}, Motivation: "  I care.\nA lot. ", AvailabilityHours: 10}.Validate(DefaultSettings("demo"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Locale != "de-DE" || p.Location.CountryCode != "DE" || p.Location.City != "Berlin" || p.Motivation != "I care.\nA lot." {
		t.Errorf("normalised profile = %+v", p)
	}
}

func TestApplyMaskChangesOnlyNamedFields(t *testing.T) {
	p := Profile{Email: "a@example.org", DisplayName: "A", Locale: "en", Location: Location{City: "Paris", CountryCode: "FR"}}
	update := Profile{DisplayName: "Other", Locale: "fr", Location: Location{City: "Lyon", CountryCode: "XX"}}
	got, err := p.ApplyMask(update, []string{"locale", "location.city"})
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != "A" || got.Locale != "fr" || got.Location.City != "Lyon" || got.Location.CountryCode != "FR" {
		t.Errorf("ApplyMask = %+v", got)
	}
	if changed := p.Changed(got); !slices.Equal(changed, []string{"locale", "location"}) {
		t.Errorf("Changed = %v", changed)
	}
	for _, bad := range [][]string{nil, {"password"}} {
		if _, err := p.ApplyMask(update, bad); !slices.Equal(fields(err), []string{"update_mask"}) {
			t.Errorf("mask %v: error = %v, want update_mask", bad, err)
		}
	}
}

func TestStatusLifecycle(t *testing.T) {
	allowed := map[[2]Status]bool{
		{StatusInvited, StatusActive}: true, {StatusActive, StatusInactive}: true, {StatusInactive, StatusActive}: true,
		{StatusInvited, StatusLeft}: true, {StatusActive, StatusLeft}: true, {StatusInactive, StatusLeft}: true, {StatusLeft, StatusActive}: true,
	}
	all := []Status{StatusInvited, StatusActive, StatusInactive, StatusLeft, StatusErased}
	for _, from := range all {
		for _, to := range all {
			if got := CanMove(from, to); got != allowed[[2]Status{from, to}] {
				t.Errorf("CanMove(%s, %s) = %v", from, to, got)
			}
		}
	}
}
