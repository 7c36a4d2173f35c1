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
	return JoinRequest{Community: "demo", Email: " Ada@Example.org", DisplayName: " Ada Lovelace ", Interests: []string{"solar", "climate", "solar"}, EmailConsent: true}
}

func TestNewMemberNormalisesValidInput(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	m, err := NewMember(validRequest(), "id-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Email != "ada@example.org" || m.DisplayName != "Ada Lovelace" || !slices.Equal(m.Interests, []string{"climate", "solar"}) {
		t.Errorf("NewMember = %+v", m)
	}
	if m.Status != StatusActive || !m.EmailConsent || m.ID != "id-1" || m.JoinedAt.Location() != time.UTC || !m.JoinedAt.Equal(now) {
		t.Errorf("NewMember = %+v", m)
	}
}

func TestNewMemberNamesEveryInvalidField(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*JoinRequest)
		fields []string
	}{
		{"invalid email", func(r *JoinRequest) { r.Email = "not-an-address" }, []string{"email"}},
		{"empty display name", func(r *JoinRequest) { r.DisplayName = "" }, []string{"display_name"}},
		{"10 KB display name", func(r *JoinRequest) { r.DisplayName = strings.Repeat("x", 10<<10) }, []string{"display_name"}},
		{"missing community", func(r *JoinRequest) { r.Community = "" }, []string{"community"}},
		{"malformed community", func(r *JoinRequest) { r.Community = "Demo Community" }, []string{"community"}},
		{"bad interest tag", func(r *JoinRequest) { r.Interests = []string{"Solar Power"} }, []string{"interests"}},
		{"too many interests", func(r *JoinRequest) {
			r.Interests = nil
			for i := range MaxInterests + 1 {
				r.Interests = append(r.Interests, fmt.Sprintf("tag-%d", i))
			}
		}, []string{"interests"}},
		{"several at once", func(r *JoinRequest) { r.Email = ""; r.DisplayName = "" }, []string{"email", "display_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := validRequest()
			tt.mutate(&req)
			_, err := NewMember(req, "id-1", time.Now())
			var got []string
			for _, fe := range validate.FieldErrors(err) {
				got = append(got, fe.Field)
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("invalid fields = %v (%v), want %v", got, err, tt.fields)
			}
		})
	}
}
