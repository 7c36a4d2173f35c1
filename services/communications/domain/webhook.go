package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/kinshiphq/kinship/internal/outbound"
	"github.com/kinshiphq/kinship/internal/validate"
)

// WebhookFormat is the payload shape a receiver expects.
type WebhookFormat string

// Webhook formats.
const (
	FormatGeneric WebhookFormat = "generic"
	FormatSlack   WebhookFormat = "slack"
	FormatDiscord WebhookFormat = "discord"
	FormatMatrix  WebhookFormat = "matrix"
)

// Webhook is a receiver of a community's announcements.
type Webhook struct {
	ID             string
	Community      string
	URL            string
	Format         WebhookFormat
	Secret         string
	Enabled        bool
	DisabledReason string
	CreatedAt      time.Time
}

// ErrWebhookNotFound means no webhook has that id in the community.
var ErrWebhookNotFound = errors.New("webhook not found")

// DestinationCheck vets a destination URL when it is registered: the
// outbound policy (internal/outbound), which refuses internal addresses
// and names and plain http outside the operator's allow-list. It returns
// outbound.ErrNotAllowed, or an explanation of what is wrong.
type DestinationCheck func(raw string) error

// NewWebhook validates a webhook.
func NewWebhook(community, rawURL string, format WebhookFormat, id, secret string, now time.Time, check DestinationCheck) (Webhook, error) {
	var errs validate.Errors
	if err := check(rawURL); err != nil {
		errs = append(errs, validate.Field("url", "%s", destinationReason(err)))
	}
	switch format {
	case FormatGeneric, FormatSlack, FormatDiscord, FormatMatrix:
	default:
		errs = append(errs, validate.Field("format", "must be generic, slack, discord or matrix"))
	}
	if err := errs.Err(); err != nil {
		return Webhook{}, err
	}
	return Webhook{ID: id, Community: community, URL: rawURL, Format: format, Secret: secret, Enabled: true,
		CreatedAt: now.UTC().Truncate(time.Microsecond)}, nil
}

func destinationReason(err error) string {
	if errors.Is(err, outbound.ErrNotAllowed) {
		return "is not an allowed destination: internal addresses and cluster names are refused (an operator may allow one with -outbound-allow)"
	}
	return err.Error()
}

// Payload is the JSON body posted to w for a message.
func (w Webhook) Payload(community, subject, text string, sentAt time.Time) ([]byte, error) {
	var body any
	switch w.Format {
	case FormatSlack:
		body = map[string]string{"text": "*" + subject + "*\n" + text}
	case FormatDiscord:
		body = map[string]string{"content": "**" + subject + "**\n" + text}
	case FormatMatrix:
		body = map[string]string{"msgtype": "m.text", "body": subject + "\n" + text}
	default:
		body = map[string]string{"community": community, "subject": subject, "text": text, "sent_at": sentAt.UTC().Format(time.RFC3339)}
	}
	return json.Marshal(body)
}

// HeaderSignature carries a webhook post's signature: the Unix time and
// the HMAC-SHA256, with the webhook's secret, of "<time>.<body>", as
// "t=<time>,v1=<hex>". Receivers recompute it and reject posts whose time
// is more than five minutes off, which stops replays.
const HeaderSignature = "X-Kinship-Signature"

// Sign returns the signature header's value for body sent at at.
func Sign(secret string, body []byte, at time.Time) string {
	timestamp := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return "t=" + timestamp + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}
