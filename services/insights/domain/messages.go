package domain

import (
	"strings"
	"time"
)

// Message is one message the communications service sent or tried to,
// keyed by its id. Its outcomes are counted on the day it was sent.
type Message struct {
	ID, MemberID   string
	Channel        string
	IdempotencyKey string
	SentAt         time.Time
	BouncedAt      time.Time
	FailedAt       time.Time
}

// ChannelName is the channel as a breakdown value.
func (m Message) ChannelName() string {
	if m.Channel == "" {
		return "email"
	}
	return m.Channel
}

// Contributions are the message's outcome.
func (m Message) Contributions(loc *time.Location) Deltas {
	out := Deltas{}
	switch {
	case !m.SentAt.IsZero():
		day := DayOf(m.SentAt, loc)
		out.Add(BucketSent, m.ChannelName(), day, 1)
		if m.BouncedAt.IsZero() {
			out.Add(BucketDelivered, m.ChannelName(), day, 1)
		} else {
			out.Add(BucketBounced, m.ChannelName(), day, 1)
		}
	case !m.FailedAt.IsZero():
		out.Add(BucketFailed, "", DayOf(m.FailedAt, loc), 1)
	}
	return out
}

// WelcomeFor reports whether key is the idempotency key of the welcome
// e-mail of member's onboarding journey in community
// ("onboarding/<community>/<member>/welcome").
func WelcomeFor(key, community, member string) bool {
	return member != "" && key == "onboarding/"+community+"/"+member+"/welcome"
}

// Unsubscribe is a member leaving an e-mail category, keyed by member,
// purpose and time.
type Unsubscribe struct {
	MemberID, Purpose string
	At                time.Time
}

// Channel is the channel the purpose belongs to: e-mail for the e-mail
// categories.
func (u Unsubscribe) Channel() string {
	if strings.HasPrefix(u.Purpose, "email.") || u.Purpose == "" {
		return "email"
	}
	return u.Purpose
}

// Contributions count the unsubscribe on its day.
func (u Unsubscribe) Contributions(loc *time.Location) Deltas {
	out := Deltas{}
	out.Add(BucketUnsubscribed, u.Channel(), DayOf(u.At, loc), 1)
	return out
}
