// Package webhooksig signs and verifies webhook deliveries the Standard
// Webhooks way (https://www.standardwebhooks.com): three headers,
//
//	webhook-id:        a unique id of the message (the same on a retry)
//	webhook-timestamp: the Unix time of the attempt, in seconds
//	webhook-signature: "v1,<base64 HMAC-SHA256>", several separated by spaces
//
// where the HMAC is of "<id>.<timestamp>.<body>" under the secret. Secrets
// are "whsec_" followed by the base64 of the key's bytes. A receiver
// accepts a delivery whose timestamp is within a tolerance of its clock
// and one of whose signatures matches one of its current secrets — so a
// sender rotating its secret signs with the old and the new one until the
// receiver has switched. Comparisons take constant time.
//
// Kinship signs its outbound domain webhooks with it, and verifies the
// deliveries of generic activity sources with it.
package webhooksig

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock, either way.
const DefaultTolerance = 5 * time.Minute

// Errors a verification reports; each means the delivery is refused.
var (
	ErrMissingHeaders = errors.New("webhook-id, webhook-timestamp or webhook-signature is missing")
	ErrBadTimestamp   = errors.New("webhook-timestamp is not a Unix time in seconds")
	ErrTooOld         = errors.New("webhook-timestamp is outside the tolerance")
	ErrNoMatch        = errors.New("no signature matches")
	ErrBadSecret      = errors.New("the secret is not whsec_ followed by base64")
)

// NewSecret returns a fresh secret: whsec_ and 32 random bytes in base64.
func NewSecret() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("new webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// Key returns the HMAC key of a secret.
func Key(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, ErrBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, ErrBadSecret
	}
	return key, nil
}

// Sign returns the webhook-signature value of a message under each of
// secrets, in order: "v1,<sig>" joined by spaces.
func Sign(id string, at time.Time, body []byte, secrets ...string) (string, error) {
	var sigs []string
	for _, s := range secrets {
		key, err := Key(s)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac(key, id, at.Unix(), body)))
	}
	if len(sigs) == 0 {
		return "", errors.New("sign webhook: no secret")
	}
	return strings.Join(sigs, " "), nil
}

// SetHeaders puts the three headers of a signed message on h.
func SetHeaders(h http.Header, id string, at time.Time, body []byte, secrets ...string) error {
	sig, err := Sign(id, at, body, secrets...)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// Verify checks a delivery's headers and body against secrets at now,
// within tolerance (0 means DefaultTolerance). It returns the message id.
func Verify(h http.Header, body []byte, now time.Time, tolerance time.Duration, secrets ...string) (string, error) {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return "", ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", ErrBadTimestamp
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	at := time.Unix(unix, 0)
	if at.Before(now.Add(-tolerance)) || at.After(now.Add(tolerance)) {
		return "", ErrTooOld
	}
	var keys [][]byte
	for _, s := range secrets {
		if key, err := Key(s); err == nil {
			keys = append(keys, key)
		}
	}
	matched := false
	for _, sig := range strings.Fields(sigs) {
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			continue
		}
		for _, key := range keys {
			// Every pair is compared, so the time taken does not tell which matched.
			if hmac.Equal(got, mac(key, id, unix, body)) {
				matched = true
			}
		}
	}
	if !matched {
		return "", ErrNoMatch
	}
	return id, nil
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(unix, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
