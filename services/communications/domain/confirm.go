package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Address confirmation (double opt-in): the link in a confirmation e-mail
// carries a token signed under a key derived from the unsubscribe key for
// this purpose alone, so an unsubscribe token can never confirm an address
// nor a confirmation token unsubscribe anyone. The token names the
// community, the member, the message that carried it, the reason and a
// hash of the address; the address itself is read from that message in
// the delivery log when the link is used.

// ConfirmTTL is how long a confirmation link works.
const ConfirmTTL = 7 * 24 * time.Hour

// Reasons for a confirmation, as the members service names them.
const (
	ConfirmJoin        = "join"
	ConfirmEmailChange = "email_change"
)

// Confirmation errors.
var (
	// ErrBadConfirmToken means a confirmation token is forged, garbled or
	// expired, or its message is gone.
	ErrBadConfirmToken = errors.New("the confirmation link is invalid or has expired")
	// ErrStaleConfirmation means the member no longer has, or asks for,
	// the address a link confirms.
	ErrStaleConfirmation = errors.New("the address is no longer waiting for confirmation")
)

// ConfirmToken is what a confirmation link proves.
type ConfirmToken struct {
	Community, MemberID, MessageID, Reason string
	// AddressHash is HashAddress of the address confirmed.
	AddressHash string
	Expires     time.Time
}

// HashAddress is a short, case-insensitive digest of an e-mail address.
func HashAddress(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// confirmKey derives the confirmation signing key from the unsubscribe
// key.
func confirmKey(key []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("kinship email confirmation v1"))
	return mac.Sum(nil)
}

const confirmVersion = "c1"

// SignConfirm makes the token for t with the unsubscribe key.
func SignConfirm(key []byte, t ConfirmToken) string {
	payload := strings.Join([]string{confirmVersion, t.Community, t.MemberID, t.MessageID, t.Reason, t.AddressHash,
		strconv.FormatInt(t.Expires.Unix(), 10)}, "|")
	mac := hmac.New(sha256.New, confirmKey(key))
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyConfirm checks token's signature and expiry.
func VerifyConfirm(key []byte, token string, now time.Time) (ConfirmToken, error) {
	if len(token) > 1024 {
		return ConfirmToken{}, ErrBadConfirmToken
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return ConfirmToken{}, ErrBadConfirmToken
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	sig, err2 := base64.RawURLEncoding.DecodeString(s)
	if err1 != nil || err2 != nil {
		return ConfirmToken{}, ErrBadConfirmToken
	}
	mac := hmac.New(sha256.New, confirmKey(key))
	mac.Write(payload)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return ConfirmToken{}, ErrBadConfirmToken
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 7 || parts[0] != confirmVersion {
		return ConfirmToken{}, ErrBadConfirmToken
	}
	exp, err := strconv.ParseInt(parts[6], 10, 64)
	if err != nil {
		return ConfirmToken{}, ErrBadConfirmToken
	}
	t := ConfirmToken{Community: parts[1], MemberID: parts[2], MessageID: parts[3], Reason: parts[4], AddressHash: parts[5],
		Expires: time.Unix(exp, 0).UTC()}
	if now.After(t.Expires) || (t.Reason != ConfirmJoin && t.Reason != ConfirmEmailChange) {
		return ConfirmToken{}, ErrBadConfirmToken
	}
	return t, nil
}
