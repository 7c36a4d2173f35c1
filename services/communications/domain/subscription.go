package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
)

// SubscriptionTypes are the event types organisers may subscribe an
// endpoint to, each with the CloudEvents type of the domain event it
// stands for (the type the delivery carries).
var SubscriptionTypes = map[string]string{
	"member.joined":                 "kinship.members.v1.MemberJoined",
	"member.left":                   "kinship.members.v1.MemberLeft",
	"member.level_changed":          "kinship.members.v1.LevelChanged",
	"member.role_changed":           "kinship.members.v1.RoleChanged",
	"member.activity_recorded":      "kinship.members.v1.ActivityRecorded",
	"member.onboarded":              "kinship.members.v1.MemberOnboarded",
	"member.erased":                 "kinship.members.v1.MemberErased",
	"event.scheduled":               "kinship.events.v1.EventScheduled",
	"event.cancelled":               "kinship.events.v1.EventCancelled",
	"event.completed":               "kinship.events.v1.EventCompleted",
	"event.rsvp":                    "kinship.events.v1.RSVPReceived",
	"event.checked_in":              "kinship.events.v1.CheckedIn",
	"event.feedback_given":          "kinship.events.v1.FeedbackGiven",
	"partner.agreement_expiring":    "kinship.partners.v1.AgreementExpiring",
	"partner.agreement_ended":       "kinship.partners.v1.AgreementEnded",
	"partner.contribution_recorded": "kinship.partners.v1.ContributionRecorded",
}

// SubscriptionTypeOf is the subscription name of a CloudEvents type, or "".
func SubscriptionTypeOf(ceType string) string {
	for name, t := range SubscriptionTypes {
		if t == ceType {
			return name
		}
	}
	return ""
}

// SubscriptionMode is how a CloudEvent travels over HTTP.
type SubscriptionMode string

// Modes (the CloudEvents HTTP binding).
const (
	ModeStructured SubscriptionMode = "structured"
	ModeBinary     SubscriptionMode = "binary"
)

// Subscription is an endpoint a community's events are posted to.
type Subscription struct {
	ID                  string
	Community           string
	URL                 string
	EventTypes          []string
	Mode                SubscriptionMode
	IncludePersonalData bool
	Secret              string
	PreviousSecret      string
	PreviousExpiresAt   time.Time
	CreatedAt           time.Time
}

// Secrets are the secrets a delivery attempt at now is signed with.
func (s Subscription) Secrets(now time.Time) []string {
	out := []string{s.Secret}
	if s.PreviousSecret != "" && now.Before(s.PreviousExpiresAt) {
		out = append(out, s.PreviousSecret)
	}
	return out
}

// Endpoint is the URL's scheme and host, safe to list.
func (s Subscription) Endpoint() string {
	scheme, rest, ok := strings.Cut(s.URL, "://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	return scheme + "://" + host
}

// MaxSubscriptionTypes bounds a subscription's event types.
const MaxSubscriptionTypes = 20

// NewSubscription validates a subscription: a destination the outbound
// policy allows, known event types, a mode.
func NewSubscription(s Subscription, check DestinationCheck) (Subscription, error) {
	var errs validate.Errors
	if len(s.URL) > 2000 {
		errs = append(errs, validate.Field("url", "must be at most 2000 characters"))
	} else if err := check(s.URL); err != nil {
		errs = append(errs, validate.Field("url", "%s", destinationReason(err)))
	}
	switch {
	case len(s.EventTypes) == 0:
		errs = append(errs, validate.Field("event_types", "must name at least one event type, such as member.joined"))
	case len(s.EventTypes) > MaxSubscriptionTypes:
		errs = append(errs, validate.Field("event_types", "must name at most %d event types", MaxSubscriptionTypes))
	}
	var types []string
	for _, t := range s.EventTypes {
		t = strings.TrimSpace(t)
		if _, ok := SubscriptionTypes[t]; !ok {
			known := make([]string, 0, len(SubscriptionTypes))
			for name := range SubscriptionTypes {
				known = append(known, name)
			}
			slices.Sort(known)
			errs = append(errs, validate.Field("event_types", "%q is not an event type; the types are %s", t, strings.Join(known, ", ")))
			continue
		}
		types = append(types, t)
	}
	slices.Sort(types)
	s.EventTypes = slices.Compact(types)
	switch s.Mode {
	case "":
		s.Mode = ModeStructured
	case ModeStructured, ModeBinary:
	default:
		errs = append(errs, validate.Field("mode", "must be structured or binary"))
	}
	s.CreatedAt = s.CreatedAt.UTC().Truncate(time.Microsecond)
	return s, errs.Err()
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// SubscriptionDelivery is one event on its way to one subscription.
type SubscriptionDelivery struct {
	ID             string
	Community      string
	SubscriptionID string
	// The CloudEvent: its id, type, source, subject and time, and its data
	// (JSON, personal data already left out where not wanted).
	EventID, EventType, Source, Subject string
	OccurredAt                          time.Time
	Data                                []byte
	Status                              string
	Attempts                            int
	LastStatus                          int
	LastError                           string
	NextAttemptAt                       time.Time
	DeliveredAt                         time.Time
	CreatedAt                           time.Time
}

// Delivery attempts.
const (
	// MaxSubscriptionAttempts is how often a delivery is tried before it
	// fails (ReplaySubscriptionDelivery starts it again).
	MaxSubscriptionAttempts = 8
	// SubscriptionRetryBase is the first wait; each next one is four times
	// longer, at most SubscriptionRetryMax: 30 s, 2 min, 8 min, 32 min,
	// about 2 h, then 6 h.
	SubscriptionRetryBase = 30 * time.Second
	SubscriptionRetryMax  = 6 * time.Hour
)

// RetryAfter is the wait after failed attempt n (1 for the first) with
// base as the first wait.
func RetryAfter(n int, base time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < SubscriptionRetryMax; i++ {
		d *= 4
	}
	return min(d, SubscriptionRetryMax)
}

// personalKeys are the fields of domain events' JSON that hold personal
// data: left out of payloads unless a subscription asks for them.
var personalKeys = []string{"email", "displayName", "profile", "interests", "pendingEmail", "name", "phone"}

// PayloadData is the JSON data a subscription receives of an event's
// payload (protojson, as an object): personal data is removed unless the
// subscription includes it — at every depth, so a member nested in an
// event's payload loses it too.
func PayloadData(payload []byte, includePersonal bool) ([]byte, error) {
	if includePersonal {
		return payload, nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // numbers pass through exactly as they came
	var data map[string]any
	if err := dec.Decode(&data); err != nil {
		return nil, fmt.Errorf("payload data: %w", err)
	}
	return json.Marshal(withoutPersonal(data))
}

// withoutPersonal returns v with the personal keys removed from every
// object in it.
func withoutPersonal(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range personalKeys {
			delete(x, k)
		}
		for k, inner := range x {
			x[k] = withoutPersonal(inner)
		}
		return x
	case []any:
		for i, inner := range x {
			x[i] = withoutPersonal(inner)
		}
		return x
	default:
		return v
	}
}

// CloudEvent renders delivery d for its subscription's mode: the body and
// the headers of the HTTP request (without the signature).
func CloudEvent(mode SubscriptionMode, d SubscriptionDelivery) ([]byte, http.Header, error) {
	h := http.Header{}
	if mode == ModeBinary {
		h.Set("Content-Type", "application/json")
		h.Set("ce-specversion", "1.0")
		h.Set("ce-id", d.EventID)
		h.Set("ce-type", d.EventType)
		h.Set("ce-source", d.Source)
		if d.Subject != "" {
			h.Set("ce-subject", d.Subject)
		}
		h.Set("ce-time", d.OccurredAt.UTC().Format(time.RFC3339Nano))
		return d.Data, h, nil
	}
	h.Set("Content-Type", "application/cloudevents+json")
	event := map[string]any{
		"specversion": "1.0", "id": d.EventID, "type": d.EventType, "source": d.Source,
		"time": d.OccurredAt.UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json", "data": json.RawMessage(d.Data),
	}
	if d.Subject != "" {
		event["subject"] = d.Subject
	}
	body, err := json.Marshal(event)
	return body, h, err
}

// Errors of subscriptions.
var (
	ErrSubscriptionNotFound = errors.New("subscription not found")
	ErrDeliveryNotFound     = errors.New("subscription delivery not found")
)
