package communications

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kinshiphq/kinship/internal/outbound"
	"github.com/kinshiphq/kinship/internal/webhooksig"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// subscriptionDispatcher posts queued domain events to their subscribers'
// endpoints through the guarded outbound client, signed, retrying with
// backoff.
type subscriptionDispatcher struct {
	store       *store.Store
	client      *outbound.Client
	logger      *slog.Logger
	now         func() time.Time
	retryBase   time.Duration
	maxAttempts int
	wake        chan struct{}
}

func newSubscriptionDispatcher(st *store.Store, client *outbound.Client, retryBase time.Duration, maxAttempts int, logger *slog.Logger) *subscriptionDispatcher {
	if retryBase <= 0 {
		retryBase = domain.SubscriptionRetryBase
	}
	if maxAttempts <= 0 {
		maxAttempts = domain.MaxSubscriptionAttempts
	}
	return &subscriptionDispatcher{store: st, client: client, logger: logger, now: time.Now, retryBase: retryBase, maxAttempts: maxAttempts,
		wake: make(chan struct{}, 1)}
}

// Wake makes the dispatcher look for due deliveries at once.
func (d *subscriptionDispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx ends: every second, and when woken.
func (d *subscriptionDispatcher) Run(ctx context.Context) error {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		for {
			due, err := d.store.ClaimDue(ctx, d.now(), 2*time.Minute, 32)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				d.logger.WarnContext(ctx, "claiming subscription deliveries failed", "error", err)
				break
			}
			for _, x := range due {
				d.send(ctx, x)
			}
			if len(due) < 32 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-d.wake:
		}
	}
}

// send makes one attempt of a delivery and records it.
func (d *subscriptionDispatcher) send(ctx context.Context, x store.Due) {
	del, sub := x.Delivery, x.Subscription
	now := d.now()
	attempt := store.Attempt{At: now}
	body, header, err := domain.CloudEvent(sub.Mode, del)
	if err == nil {
		err = webhooksig.SetHeaders(header, del.ID, now, body, sub.Secrets(now)...)
	}
	if err != nil {
		d.logger.ErrorContext(ctx, "rendering a subscription delivery failed", "community", del.Community, "delivery_id", del.ID, "error", err)
		attempt.Error = "could not be rendered"
	} else {
		attempt.Status, attempt.Error = d.post(ctx, sub.URL, header, body)
		attempt.Delivered = attempt.Error == ""
	}
	if !attempt.Delivered && del.Attempts+1 < d.maxAttempts {
		attempt.Next = now.Add(domain.RetryAfter(del.Attempts+1, d.retryBase))
	}
	if err := d.store.RecordAttempt(ctx, del.ID, attempt); err != nil && ctx.Err() == nil {
		d.logger.WarnContext(ctx, "recording a subscription delivery failed", "delivery_id", del.ID, "error", err)
	}
	d.logger.InfoContext(ctx, "subscription delivery attempted", "community", del.Community, "subscription_id", sub.ID, "delivery_id", del.ID,
		"delivered", attempt.Delivered, "status", attempt.Status, "attempt", del.Attempts+1)
}

// post sends one request; it returns the status and, when the endpoint
// did not take it, why in words safe to show.
func (d *subscriptionDispatcher) post(ctx context.Context, url string, header http.Header, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, string(outbound.KindBadURL)
	}
	req.Header = header
	req.Header.Set("User-Agent", "Kinship-Webhooks/1")
	res, err := d.client.Do(req)
	var oe *outbound.Error
	switch {
	case errors.As(err, &oe):
		return 0, string(oe.Kind)
	case err != nil:
		return 0, string(outbound.KindConnect)
	case res.StatusCode < 200 || res.StatusCode > 299:
		return res.StatusCode, fmt.Sprintf("answered %d", res.StatusCode)
	}
	return res.StatusCode, ""
}
