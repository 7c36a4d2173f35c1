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

// Unsubscribe tokens are signed and expire, so a link cannot be forged or
// guessed and an old e-mail's link stops working after a while.

// UnsubscribeTTL is how long an unsubscribe link works.
const UnsubscribeTTL = 60 * 24 * time.Hour

// ErrBadToken means an unsubscribe token is forged, garbled or expired.
var ErrBadToken = errors.New("the unsubscribe link is invalid or has expired")

// UnsubscribeToken names who leaves which category, until when.
type UnsubscribeToken struct {
	Community, MemberID, Purpose string
	Expires                      time.Time
}

// SignUnsubscribe makes the token for t with key.
func SignUnsubscribe(key []byte, t UnsubscribeToken) string {
	payload := t.Community + "|" + t.MemberID + "|" + t.Purpose + "|" + strconv.FormatInt(t.Expires.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// VerifyUnsubscribe checks token's signature and expiry.
func VerifyUnsubscribe(key []byte, token string, now time.Time) (UnsubscribeToken, error) {
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return UnsubscribeToken{}, ErrBadToken
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	sig, err2 := base64.RawURLEncoding.DecodeString(s)
	if err1 != nil || err2 != nil {
		return UnsubscribeToken{}, ErrBadToken
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return UnsubscribeToken{}, ErrBadToken
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 4 {
		return UnsubscribeToken{}, ErrBadToken
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return UnsubscribeToken{}, ErrBadToken
	}
	t := UnsubscribeToken{Community: parts[0], MemberID: parts[1], Purpose: parts[2], Expires: time.Unix(exp, 0).UTC()}
	if now.After(t.Expires) {
		return UnsubscribeToken{}, ErrBadToken
	}
	return t, nil
}
