package domain

import (
	"errors"
	"strings"
	"time"
)

// Why an address is to be confirmed (EmailConfirmationRequested.reason,
// EmailConfirmed.reason).
const (
	// ConfirmJoin: a public join, whose address is not yet proven.
	ConfirmJoin = "join"
	// ConfirmEmailChange: a member changing their own address.
	ConfirmEmailChange = "email_change"
	// ConfirmOrganiser: the community's team changed the member's address
	// and vouched for it.
	ConfirmOrganiser = "organiser"
)

// RepeatJoinEvery is how often a member is told at most that someone asked
// to join with their address.
const RepeatJoinEvery = 24 * time.Hour

// DefaultPolicyVersion stands for consent given where no policy version
// was named (a join, a confirmation, an import without one).
const DefaultPolicyVersion = "unspecified"

// Consent sources of the ledger for consent that did not come from a
// form: given on a public join and confirmed by following the link, or
// given by the community's team adding the member.
const (
	ConsentSourceDoubleOptIn = "double-opt-in"
	ConsentSourceOrganiser   = "organiser"
	ConsentSourceImport      = "import"
)

// ErrStaleConfirmation means a confirmation link names an address the
// member neither holds unconfirmed nor asked to change to.
var ErrStaleConfirmation = errors.New("the address is not one this member is waiting to confirm")

// Confirm decides what following a confirmation link for email does: the
// reason it confirms (ConfirmJoin or ConfirmEmailChange) and the member
// after it. An address already confirmed changes nothing (reason ""); any
// other address is ErrStaleConfirmation, an erased member ErrErased.
func (m Member) Confirm(email string) (Member, string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	switch {
	case m.Status == StatusErased:
		return m, "", ErrErased
	case email == "":
		return m, "", ErrStaleConfirmation
	case email == m.Email && m.EmailVerified:
		return m, "", nil
	case email == m.Email:
		m.EmailVerified = true
		return m, ConfirmJoin, nil
	case email == m.PendingEmail:
		m.Email, m.PendingEmail, m.EmailVerified = m.PendingEmail, "", true
		return m, ConfirmEmailChange, nil
	}
	return m, "", ErrStaleConfirmation
}

// ChangeEmail applies a new address to m. The community's team vouches
// for what it types: the address changes at once, verified. A member's
// own change waits in PendingEmail until they follow the link sent to
// it; ChangeEmail then reports that a confirmation must be requested.
func (m *Member) ChangeEmail(email string, vouched bool) (confirm bool) {
	if email == m.Email {
		return false
	}
	if vouched {
		m.Email, m.PendingEmail, m.EmailVerified = email, "", true
		return false
	}
	m.PendingEmail = email
	return true
}
