package domain

import (
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// Messages the service sends on its own, queued by its consumers of
// members.v1: the double opt-in confirmation and the "you are already a
// member" notice. Both are answers to someone's request, so they need no
// consent and ignore quiet hours.

// NewConfirmation is the message asking memberID to confirm address, for
// reason ConfirmJoin or ConfirmEmailChange. key makes it idempotent.
func NewConfirmation(community, memberID, address, reason, key, id string, now time.Time) (Message, error) {
	var errs validate.Errors
	to, ferr := validate.Email("email", address)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if reason != ConfirmJoin && reason != ConfirmEmailChange {
		errs = append(errs, validate.Field("reason", "must be %s or %s", ConfirmJoin, ConfirmEmailChange))
	}
	m, err := systemMessage(community, memberID, TemplateEmailConfirmation, key, id, now, errs)
	if err != nil {
		return Message{}, err
	}
	m.To, m.Kind, m.Vars = to, KindConfirmation, map[string]string{"reason": reason}
	m.Fingerprint = fingerprint(m)
	return m, nil
}

// NewAlreadyMember tells memberID that someone asked to join with their
// address; it goes to their confirmed address.
func NewAlreadyMember(community, memberID, key, id string, now time.Time) (Message, error) {
	m, err := systemMessage(community, memberID, TemplateAlreadyMember, key, id, now, nil)
	if err != nil {
		return Message{}, err
	}
	m.Fingerprint = fingerprint(m)
	return m, nil
}

func systemMessage(community, memberID, template, key, id string, now time.Time, errs validate.Errors) (Message, error) {
	c, ferr := validate.Slug("community", community, 63)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	member, ferr := validate.Text("member_id", memberID, 1, MaxMemberIDLength)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if ferr := checkKey(key); ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return Message{}, err
	}
	at := now.UTC().Truncate(time.Microsecond)
	return Message{ID: id, Community: c, IdempotencyKey: key, MemberID: member, Template: template, Kind: KindTransactional,
		Channel: ChannelEmail, Status: StatusPending, CreatedAt: at, DueAt: at}, nil
}
