// Package ingest reads what activity sources send to their webhooks:
// it checks a delivery's signature the way its sender signs (GitHub's
// X-Hub-Signature-256, Discourse's X-Discourse-Event-Signature, Standard
// Webhooks for Kinship's generic JSON shape) and turns its payload into
// activities, each with the identity it is about and a key that makes it
// count once however often it is delivered. It does no I/O; what it cannot
// use it says why, so the delivery is kept with a reason rather than
// retried forever.
package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/webhooksig"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// MaxBody bounds a delivery's body; a larger one is refused (413).
const MaxBody = 1 << 20

// ReplayWindow is how old the object of a GitHub or Discourse delivery
// may be: neither signs the time of sending, so an older delivery (one
// replayed, or recorded and sent again) is ignored. Redeliveries within
// it are deduplicated by their delivery id and the object's key.
const ReplayWindow = 7 * 24 * time.Hour

// Activity is one activity a delivery holds.
type Activity struct {
	// Key names the object that proves it within its source, such as
	// "issue_comment/492700400"; the same key counts once.
	Key        string
	Type       string
	OccurredAt time.Time
	// Who it is about; a handle's provider is filled in by the caller.
	Who        domain.Identity
	Properties map[string]string
}

// Parsed is what a delivery holds.
type Parsed struct {
	// Event is the sender's name for what happened, such as
	// "issue_comment" or "post_created".
	Event      string
	Activities []Activity
	// Ignored says why a delivery holds no activity.
	Ignored string
	// Skipped says why activities of a delivery were left out, one
	// reason each (the generic shape).
	Skipped []string
}

func ignored(event, reason string) Parsed { return Parsed{Event: event, Ignored: reason} }

// Errors of signature checks: each is answered 401 and records nothing.
var (
	ErrNoSignature  = errors.New("the delivery is not signed")
	ErrBadSignature = errors.New("the signature does not match")
	ErrNoDeliveryID = errors.New("the delivery has no delivery id")
)

// Delivery names a delivery: the sender's id of it and its event.
type Delivery struct {
	ID, Event string
}

// Verify checks a delivery of a source of kind signed with one of
// secrets, at now (generic deliveries carry a signed time). It returns the
// delivery's id and event name.
func Verify(kind domain.ActivitySourceKind, h http.Header, body []byte, secrets []string, now time.Time) (Delivery, error) {
	switch kind {
	case domain.SourceGitHub:
		if err := verifyHexHMAC(h.Get("X-Hub-Signature-256"), body, secrets); err != nil {
			return Delivery{}, err
		}
		return delivery(h.Get("X-GitHub-Delivery"), h.Get("X-GitHub-Event"))
	case domain.SourceDiscourse:
		if err := verifyHexHMAC(h.Get("X-Discourse-Event-Signature"), body, secrets); err != nil {
			return Delivery{}, err
		}
		return delivery(h.Get("X-Discourse-Event-Id"), h.Get("X-Discourse-Event"))
	case domain.SourceGeneric:
		id, err := webhooksig.Verify(h, body, now, webhooksig.DefaultTolerance, secrets...)
		switch {
		case errors.Is(err, webhooksig.ErrMissingHeaders):
			return Delivery{}, ErrNoSignature
		case err != nil:
			return Delivery{}, ErrBadSignature
		}
		return delivery(id, "activities")
	}
	return Delivery{}, ErrBadSignature
}

func delivery(id, event string) (Delivery, error) {
	id, event = strings.TrimSpace(id), strings.TrimSpace(event)
	if id == "" || len(id) > 200 || strings.ContainsFunc(id, isControl) {
		return Delivery{}, ErrNoDeliveryID
	}
	if len(event) > 100 || strings.ContainsFunc(event, isControl) {
		event = ""
	}
	return Delivery{ID: id, Event: event}, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// verifyHexHMAC checks "sha256=<hex HMAC-SHA256 of body>" against every
// secret, in constant time whichever matches.
func verifyHexHMAC(header string, body []byte, secrets []string) error {
	raw, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok || raw == "" {
		return ErrNoSignature
	}
	got, err := hex.DecodeString(raw)
	if err != nil {
		return ErrBadSignature
	}
	matched := false
	for _, s := range secrets {
		if s == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(s))
		m.Write(body)
		if hmac.Equal(got, m.Sum(nil)) {
			matched = true
		}
	}
	if !matched {
		return ErrBadSignature
	}
	return nil
}

// SignHex is how GitHub and Discourse sign a body: "sha256=<hex>"; tests
// and the benchmark sign with it.
func SignHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Parse reads the activities of a verified delivery of a source of kind.
func Parse(kind domain.ActivitySourceKind, event string, body []byte, now time.Time) Parsed {
	switch kind {
	case domain.SourceGitHub:
		return parseGitHub(event, body, now)
	case domain.SourceDiscourse:
		return parseDiscourse(event, body, now)
	case domain.SourceGeneric:
		return parseGeneric(body, now)
	}
	return ignored(event, "unknown source kind")
}

// fresh reports why an object of a source without signed times is too
// old (or too far ahead) to count, or "" when it is not.
func fresh(at, now time.Time) string {
	switch {
	case at.IsZero():
		return "the payload does not say when it happened"
	case at.Before(now.Add(-ReplayWindow)):
		return "the activity is older than the replay window (7 days)"
	case at.After(now.Add(24 * time.Hour)):
		return "the activity lies in the future"
	}
	return ""
}
