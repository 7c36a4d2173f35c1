package domain

import "fmt"

// Kind decides which consent a message needs and whether quiet hours hold it.
type Kind int

// Message kinds.
const (
	KindTransactional Kind = iota + 1
	KindAnnouncement
	KindDigest
	// KindConfirmation asks a member to confirm an address: the one kind
	// of message that goes to an address not (yet) confirmed — the
	// address the confirmation is for, carried by the message.
	KindConfirmation
)

var kindNames = map[Kind]string{KindTransactional: "transactional", KindAnnouncement: "announcement", KindDigest: "digest",
	KindConfirmation: "confirmation"}

// String is the kind's stored name.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "unknown"
}

// ParseKind reads a stored kind name.
func ParseKind(name string) (Kind, error) {
	for k, n := range kindNames {
		if n == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown message kind %q", name)
}

// Consent purposes a message kind needs; transactional needs none.
const (
	PurposeAnnouncements = "email.announcements"
	PurposeDigest        = "email.digest"
)

// Purpose is the consent a kind of message needs, or "" for none.
func (k Kind) Purpose() string {
	switch k {
	case KindAnnouncement:
		return PurposeAnnouncements
	case KindDigest:
		return PurposeDigest
	}
	return ""
}

// Channel is where a message goes.
type Channel string

// Channels.
const (
	ChannelEmail   Channel = "email"
	ChannelWebhook Channel = "webhook"
)
