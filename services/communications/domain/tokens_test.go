package domain

import (
	"errors"
	"testing"
	"time"
)

// The derivation is the one docs/communications.md tells operators to
// compute with openssl:
//
//	printf 'kinship-bounce:demo' | openssl dgst -sha256 -hmac "$(cat bounce-secret)"
func TestBounceTokensAreDerivedPerCommunity(t *testing.T) {
	secret := []byte("bounce-secret")
	if got, want := BounceToken(secret, "demo"), "45b470548d70e9e72314dc49b924eb88a472e1c18571dca017f354544e7127e2"; got != want {
		t.Errorf("BounceToken = %s, want %s", got, want)
	}
	if !CheckBounceToken(secret, "demo", BounceToken(secret, "demo")) || CheckBounceToken(secret, "other", BounceToken(secret, "demo")) ||
		CheckBounceToken(secret, "demo", string(secret)) || CheckBounceToken(nil, "demo", BounceToken(nil, "demo")) {
		t.Error("a token serves another community, the secret itself serves as a token, or an empty secret accepts reports")
	}
}

func TestConfirmTokens(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Now()
	tok := ConfirmToken{Community: "demo", MemberID: "m1", MessageID: "msg1", Reason: ConfirmJoin, AddressHash: HashAddress("Ada@Example.org"),
		Expires: now.Add(ConfirmTTL).Truncate(time.Second).UTC()}
	signed := SignConfirm(key, tok)
	got, err := VerifyConfirm(key, signed, now)
	if err != nil || got != tok {
		t.Fatalf("VerifyConfirm = %+v, %v; want %+v", got, err, tok)
	}
	if got.AddressHash != HashAddress("ada@example.org ") {
		t.Error("the address hash depends on case or spaces")
	}
	for name, tt := range map[string]struct {
		token string
		at    time.Time
		key   []byte
	}{
		"expired":           {signed, now.Add(ConfirmTTL + time.Minute), key},
		"another key":       {signed, now, []byte("another key of thirty-two bytes!")},
		"an unsubscribe":    {SignUnsubscribe(key, UnsubscribeToken{Community: "demo", MemberID: "m1", Purpose: "join", Expires: now.Add(time.Hour)}), now, key},
		"an unknown reason": {SignConfirm(key, ConfirmToken{Community: "demo", MemberID: "m1", Reason: "takeover", Expires: now.Add(time.Hour)}), now, key},
	} {
		if _, err := VerifyConfirm(tt.key, tt.token, tt.at); !errors.Is(err, ErrBadConfirmToken) {
			t.Errorf("%s: %v, want ErrBadConfirmToken", name, err)
		}
	}
	if _, err := VerifyUnsubscribe(key, signed, now); err == nil {
		t.Error("a confirmation token unsubscribes")
	}
}
