package domain

import (
	"errors"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestConfirm(t *testing.T) {
	unverified := Member{Profile: Profile{Email: "ada@example.org"}, Status: StatusActive, ConsentAsked: true}
	verified := unverified
	verified.EmailVerified = true
	changing := verified
	changing.PendingEmail = "ada@new.example.org"
	erased := unverified
	erased.Status = StatusErased

	tests := []struct {
		name       string
		m          Member
		email      string
		wantReason string
		wantEmail  string
		wantErr    error
	}{
		{"a join's address", unverified, "ada@example.org", ConfirmJoin, "ada@example.org", nil},
		{"written otherwise", unverified, " ADA@example.org ", ConfirmJoin, "ada@example.org", nil},
		{"confirmed already", verified, "ada@example.org", "", "ada@example.org", nil},
		{"a change", changing, "ada@new.example.org", ConfirmEmailChange, "ada@new.example.org", nil},
		{"the old address while a change waits", changing, "ada@example.org", "", "ada@example.org", nil},
		{"an address the member never had", verified, "mallory@example.org", "", "", ErrStaleConfirmation},
		{"no address", unverified, "", "", "", ErrStaleConfirmation},
		{"an erased member", erased, "ada@example.org", "", "", ErrErased},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after, reason, err := tt.m.Confirm(tt.email)
			if !errors.Is(err, tt.wantErr) || reason != tt.wantReason {
				t.Fatalf("Confirm = %q, %v; want %q, %v", reason, err, tt.wantReason, tt.wantErr)
			}
			if err == nil && (after.Email != tt.wantEmail || !after.EmailVerified || after.PendingEmail == after.Email && after.PendingEmail != "") {
				t.Errorf("after = %+v", after)
			}
		})
	}
}

func TestChangeEmail(t *testing.T) {
	m := Member{Profile: Profile{Email: "ada@example.org"}, EmailVerified: true}
	own := m
	if !own.ChangeEmail("ada@new.example.org", false) || own.Email != "ada@example.org" || own.PendingEmail != "ada@new.example.org" {
		t.Errorf("a member's own change = %+v; want the address kept and the new one pending", own)
	}
	team := own
	team.EmailVerified = false
	if team.ChangeEmail("ada@third.example.org", true) || team.Email != "ada@third.example.org" || team.PendingEmail != "" || !team.EmailVerified {
		t.Errorf("the team's change = %+v; want the address changed and verified", team)
	}
	same := m
	if same.ChangeEmail("ada@example.org", false) || same.Email != m.Email || same.PendingEmail != "" || !same.EmailVerified {
		t.Errorf("the same address = %+v; want nothing", same)
	}
}

func TestNewMemberWaitsForConfirmationUnlessVouched(t *testing.T) {
	req := JoinRequest{Community: "demo", Profile: Profile{Email: "ada@example.org", DisplayName: "Ada"}, EmailConsent: true}
	public, err := NewMember(req, DefaultSettings("demo"), "m1", testNow)
	if err != nil || public.EmailVerified || public.EmailConsent || !public.ConsentAsked {
		t.Errorf("public join = %+v, %v; want unverified, consent asked but not in effect", public, err)
	}
	req.Vouched = true
	added, err := NewMember(req, DefaultSettings("demo"), "m2", testNow)
	if err != nil || !added.EmailVerified || !added.EmailConsent || added.ConsentAsked {
		t.Errorf("organiser's join = %+v, %v; want verified with consent", added, err)
	}
}
