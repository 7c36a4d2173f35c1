package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
)

// API keys look like kinship_<prefix>_<secret>. The prefix identifies the
// key and may be shown; only a hash of the secret is stored.
const apiKeyScheme = "kinship_"

// APIKey is a newly created key, whose Secret is shown once.
type APIKey struct {
	Prefix string
	// Plain is the whole key the caller presents.
	Plain string
	// Hash is what is stored.
	Hash string
}

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewAPIKey draws a new key.
func NewAPIKey() (APIKey, error) {
	var prefix [5]byte
	var secret [20]byte
	if _, err := rand.Read(prefix[:]); err != nil {
		return APIKey{}, err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return APIKey{}, err
	}
	p := strings.ToLower(keyEncoding.EncodeToString(prefix[:]))
	s := strings.ToLower(keyEncoding.EncodeToString(secret[:]))
	plain := apiKeyScheme + p + "_" + s
	return APIKey{Prefix: p, Plain: plain, Hash: HashAPIKey(plain)}, nil
}

// HashAPIKey is the stored form of a presented key.
func HashAPIKey(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// ErrMalformedKey means a credential is not an API key at all.
var ErrMalformedKey = errors.New("malformed api key")

// ParseAPIKey returns the prefix of a presented key.
func ParseAPIKey(plain string) (prefix string, err error) {
	rest, ok := strings.CutPrefix(plain, apiKeyScheme)
	if !ok {
		return "", ErrMalformedKey
	}
	p, s, ok := strings.Cut(rest, "_")
	if !ok || len(p) != 8 || len(s) != 32 {
		return "", ErrMalformedKey
	}
	return p, nil
}

// IsAPIKey reports whether a presented credential is meant as an API key.
func IsAPIKey(credential string) bool { return strings.HasPrefix(credential, apiKeyScheme) }

// HashMatches compares a presented key with a stored hash in constant time.
func HashMatches(plain, storedHash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashAPIKey(plain)), []byte(storedHash)) == 1
}

// APIKeyVerifier resolves a presented API key to its principal.
type APIKeyVerifier interface {
	VerifyAPIKey(ctx context.Context, plain string) (Principal, error)
}

// ErrUnknownKey means no live key matches: unknown, revoked or wrong secret.
var ErrUnknownKey = errors.New("unknown or revoked api key")
