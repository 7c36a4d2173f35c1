package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// BounceToken is the bearer token that authenticates bounce reports for
// community: the hex HMAC-SHA256 of "kinship-bounce:<community>" under the
// instance's bounce secret. Each community gets its own token, and a
// token accepts reports for its community only, so whoever holds one
// community's token cannot suppress addresses in another.
func BounceToken(secret []byte, community string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("kinship-bounce:" + community))
	return hex.EncodeToString(mac.Sum(nil))
}

// CheckBounceToken reports whether token is community's bounce token, in
// constant time.
func CheckBounceToken(secret []byte, community, token string) bool {
	if len(secret) == 0 {
		return false
	}
	return hmac.Equal([]byte(token), []byte(BounceToken(secret, community)))
}
