package domain

import "testing"

func TestInDoubtPolicy(t *testing.T) {
	for _, c := range []struct {
		name    string
		kind    Kind
		attempt int
		want    InDoubt
	}{
		{"transactional mail is resent", KindTransactional, 1, InDoubtResend},
		{"a confirmation is resent", KindConfirmation, 3, InDoubtResend},
		{"an announcement is not resent", KindAnnouncement, 1, InDoubtGiveUp},
		{"a digest is not resent", KindDigest, 1, InDoubtGiveUp},
		{"transactional mail whose last attempt was in doubt is not resent", KindTransactional, MaxAttempts, InDoubtGiveUp},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := InDoubtPolicy(Message{Kind: c.kind, SendingAttempt: c.attempt}); got != c.want {
				t.Errorf("InDoubtPolicy(%s, attempt %d) = %d, want %d", c.kind, c.attempt, got, c.want)
			}
		})
	}
}

func TestInDoubtStatusRoundTrips(t *testing.T) {
	if got, err := ParseStatus(StatusInDoubt.String()); err != nil || got != StatusInDoubt || StatusInDoubt.String() != "in_doubt" {
		t.Errorf("ParseStatus(%q) = %v, %v", StatusInDoubt.String(), got, err)
	}
}
