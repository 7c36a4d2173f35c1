package domain

import (
	"testing"
	"time"
)

func TestDecideSendsOnlyToConfirmedMembersAddresses(t *testing.T) {
	now := time.Now()
	confirmed := &Recipient{MemberID: "m1", Status: "active", EmailVerified: true, Consents: []string{PurposeAnnouncements}}
	unconfirmed := &Recipient{MemberID: "m2", Status: "active", Consents: []string{PurposeAnnouncements}}
	gone := &Recipient{MemberID: "m3", Status: "left", EmailVerified: true}
	mail := func(k Kind) Message { return Message{Kind: k, Channel: ChannelEmail} }
	for name, tt := range map[string]struct {
		m          Message
		r          *Recipient
		suppressed bool
		want       string // "" sends
	}{
		"transactional to a confirmed address":       {mail(KindTransactional), confirmed, false, ""},
		"announcement to a confirmed, consenting":    {mail(KindAnnouncement), confirmed, false, ""},
		"transactional to an unconfirmed address":    {mail(KindTransactional), unconfirmed, false, ReasonNotConfirmed},
		"announcement to an unconfirmed address":     {mail(KindAnnouncement), unconfirmed, false, ReasonNotConfirmed},
		"the confirmation to an unconfirmed address": {mail(KindConfirmation), unconfirmed, false, ""},
		"the confirmation before the projection":     {mail(KindConfirmation), nil, false, ""},
		"the confirmation to a suppressed address":   {mail(KindConfirmation), unconfirmed, true, ReasonAddressBlocked},
		"a member unknown here":                      {mail(KindTransactional), nil, false, ReasonNotMember},
		"a member who left":                          {mail(KindConfirmation), gone, false, ReasonNotMember},
		"digest without consent":                     {mail(KindDigest), confirmed, false, ReasonNoConsent},
		"a webhook post":                             {Message{Kind: KindAnnouncement, Channel: ChannelWebhook}, nil, false, ""},
	} {
		t.Run(name, func(t *testing.T) {
			d := Decide(tt.m, tt.r, tt.suppressed, QuietHours{}, now)
			if d.Suppress != (tt.want != "") || d.Reason != tt.want {
				t.Errorf("Decide = %+v, want reason %q", d, tt.want)
			}
		})
	}
}
