package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/services/communications/domain"
)

// Auditor records a change in the audit log, in the change's transaction.
type Auditor interface {
	Record(ctx context.Context, tx *sql.Tx, community, action, targetType, targetID string) error
}

const subscriptionColumns = "id, community, url, event_types, mode, include_personal_data, secret, previous_secret, previous_expires_at, created_at"

func scanSubscription(row interface{ Scan(...any) error }) (domain.Subscription, error) {
	var s domain.Subscription
	var types, mode string
	var prev sql.NullTime
	err := row.Scan(&s.ID, &s.Community, &s.URL, &types, &mode, &s.IncludePersonalData, &s.Secret, &s.PreviousSecret, &prev, &s.CreatedAt)
	if err != nil {
		return s, err
	}
	s.EventTypes, s.Mode, s.CreatedAt = strings.Split(strings.Trim(types, ","), ","), domain.SubscriptionMode(mode), s.CreatedAt.UTC()
	if prev.Valid {
		s.PreviousExpiresAt = prev.Time.UTC()
	}
	return s, nil
}

// CreateSubscription stores a subscription, audited.
func (s *Store) CreateSubscription(ctx context.Context, sub domain.Subscription, by string, audit Auditor) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO subscriptions (id, community, url, event_types, mode, include_personal_data, secret,
			created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), sub.ID, sub.Community, sub.URL, ","+strings.Join(sub.EventTypes, ",")+",",
			string(sub.Mode), sub.IncludePersonalData, sub.Secret, sub.CreatedAt, by)
		if err != nil {
			return fmt.Errorf("create subscription: %w", err)
		}
		return audit.Record(ctx, tx, sub.Community, "subscription.created", "subscription", sub.ID)
	})
}

// Subscriptions lists community's subscriptions, oldest first.
func (s *Store) Subscriptions(ctx context.Context, community string) ([]domain.Subscription, error) {
	return s.querySubscriptions(ctx, s.db, "community = ? ORDER BY id", community)
}

// Subscription reads one subscription of community.
func (s *Store) Subscription(ctx context.Context, community, id string) (domain.Subscription, error) {
	list, err := s.querySubscriptions(ctx, s.db, "community = ? AND id = ?", community, id)
	if err != nil {
		return domain.Subscription{}, err
	}
	if len(list) == 0 {
		return domain.Subscription{}, domain.ErrSubscriptionNotFound
	}
	return list[0], nil
}

func (s *Store) querySubscriptions(ctx context.Context, q querier, where string, args ...any) ([]domain.Subscription, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT "+subscriptionColumns+" FROM subscriptions WHERE "+where), args...)
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	defer rows.Close()
	var out []domain.Subscription
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// DeleteSubscription removes a subscription of community and its
// deliveries, audited; removing one that is not there changes nothing.
func (s *Store) DeleteSubscription(ctx context.Context, community, id string, audit Auditor) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM subscription_deliveries WHERE community = ? AND subscription_id = ?"), community, id); err != nil {
			return fmt.Errorf("delete subscription %s: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM subscriptions WHERE community = ? AND id = ?"), community, id)
		if err != nil {
			return fmt.Errorf("delete subscription %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrSubscriptionNotFound
		}
		return audit.Record(ctx, tx, community, "subscription.deleted", "subscription", id)
	})
}

// RotateSubscriptionSecret gives a subscription of community a new
// secret, the current one signing too until previousUntil; audited.
func (s *Store) RotateSubscriptionSecret(ctx context.Context, community, id, secret string, previousUntil time.Time, audit Auditor) (domain.Subscription, error) {
	var out domain.Subscription
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE subscriptions SET previous_secret = secret, previous_expires_at = ?, secret = ?
			WHERE community = ? AND id = ?`), previousUntil.UTC(), secret, community, id)
		if err != nil {
			return fmt.Errorf("rotate subscription secret: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrSubscriptionNotFound
		}
		list, err := s.querySubscriptions(ctx, tx, "community = ? AND id = ?", community, id)
		if err != nil || len(list) == 0 {
			return err
		}
		out = list[0]
		return audit.Record(ctx, tx, community, "subscription.secret_rotated", "subscription", id)
	})
	return out, err
}

// HasSubscribers reports whether a subscription of community asks for
// events of the subscription type name.
func (s *Store) HasSubscribers(ctx context.Context, community, name string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM subscriptions WHERE community = ? AND event_types LIKE ?"),
		community, "%,"+name+",%").Scan(&n)
	if err != nil {
		return false, fmt.Errorf("find subscribers: %w", err)
	}
	return n > 0, nil
}

// Event is a domain event as subscriptions receive it: its CloudEvents
// attributes and its payload as JSON (all of it: PayloadData leaves
// personal data out per subscription).
type Event struct {
	ID, Type, Source, Subject string
	Time                      time.Time
	Payload                   []byte
}

// EnqueueEvent queues e for every subscription of community to its type,
// once per subscription however often e arrives. It returns how many
// deliveries it queued.
func (s *Store) EnqueueEvent(ctx context.Context, community string, e Event, now time.Time) (int, error) {
	name := domain.SubscriptionTypeOf(e.Type)
	if name == "" {
		return 0, nil
	}
	n := 0
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		subs, err := s.querySubscriptions(ctx, tx, "community = ? AND event_types LIKE ?", community, "%,"+name+",%")
		if err != nil {
			return err
		}
		for _, sub := range subs {
			data, err := domain.PayloadData(e.Payload, sub.IncludePersonalData)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO subscription_deliveries (id, community, subscription_id, event_id, event_type,
				source, subject, occurred_at, data, status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (subscription_id, event_id) DO NOTHING`),
				"whd_"+uuid.Must(uuid.NewV7()).String(), community, sub.ID, e.ID, e.Type, e.Source, e.Subject, e.Time.UTC(), string(data),
				domain.DeliveryPending, now.UTC(), now.UTC())
			if err != nil {
				return fmt.Errorf("queue delivery to %s: %w", sub.ID, err)
			}
			if k, _ := res.RowsAffected(); k > 0 {
				n++
			}
		}
		return nil
	})
	return n, err
}

const deliveryColumns = `d.id, d.community, d.subscription_id, d.event_id, d.event_type, d.source, d.subject, d.occurred_at, d.data, d.status,
	d.attempts, d.last_status, d.last_error, d.next_attempt_at, d.delivered_at, d.created_at`

func scanDelivery(row interface{ Scan(...any) error }, extra ...any) (domain.SubscriptionDelivery, error) {
	var d domain.SubscriptionDelivery
	var data string
	var delivered sql.NullTime
	err := row.Scan(append([]any{&d.ID, &d.Community, &d.SubscriptionID, &d.EventID, &d.EventType, &d.Source, &d.Subject, &d.OccurredAt, &data,
		&d.Status, &d.Attempts, &d.LastStatus, &d.LastError, &d.NextAttemptAt, &delivered, &d.CreatedAt}, extra...)...)
	if err != nil {
		return d, err
	}
	d.Data, d.OccurredAt, d.NextAttemptAt, d.CreatedAt = []byte(data), d.OccurredAt.UTC(), d.NextAttemptAt.UTC(), d.CreatedAt.UTC()
	if delivered.Valid {
		d.DeliveredAt = delivered.Time.UTC()
	}
	return d, nil
}

// Due is a delivery claimed for an attempt, with its subscription.
type Due struct {
	Delivery     domain.SubscriptionDelivery
	Subscription domain.Subscription
}

// ClaimDue claims up to limit deliveries whose next attempt is due at now,
// each for lease (another dispatcher, or this one after a crash, takes it
// again once the lease has passed).
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Due, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT d.id FROM subscription_deliveries d WHERE d.status = ? AND d.next_attempt_at <= ?
		AND (d.lease_until IS NULL OR d.lease_until < ?) ORDER BY d.next_attempt_at LIMIT ?`), domain.DeliveryPending, now.UTC(), now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("find due deliveries: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	var out []Due
	for _, id := range ids {
		res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE subscription_deliveries SET lease_until = ? WHERE id = ? AND status = ?
			AND (lease_until IS NULL OR lease_until < ?)`), now.Add(lease).UTC(), id, domain.DeliveryPending, now.UTC())
		if err != nil {
			return out, fmt.Errorf("claim delivery %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // taken by another dispatcher
		}
		var due Due
		var types, mode string
		var prev sql.NullTime
		sub := &due.Subscription
		d, err := scanDelivery(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+deliveryColumns+`, s.url, s.event_types, s.mode, s.include_personal_data,
			s.secret, s.previous_secret, s.previous_expires_at FROM subscription_deliveries d JOIN subscriptions s ON s.id = d.subscription_id
			AND s.community = d.community WHERE d.id = ?`), id), &sub.URL, &types, &mode, &sub.IncludePersonalData, &sub.Secret, &sub.PreviousSecret, &prev)
		if errors.Is(err, sql.ErrNoRows) {
			continue // deleted meanwhile
		}
		if err != nil {
			return out, fmt.Errorf("read delivery %s: %w", id, err)
		}
		sub.ID, sub.Community, sub.Mode = d.SubscriptionID, d.Community, domain.SubscriptionMode(mode)
		if prev.Valid {
			sub.PreviousExpiresAt = prev.Time.UTC()
		}
		due.Delivery = d
		out = append(out, due)
	}
	return out, nil
}

// Attempt is the outcome of one delivery attempt.
type Attempt struct {
	Delivered bool
	Status    int
	Error     string
	// Next is when to try again; zero with Delivered false fails the
	// delivery for good.
	Next time.Time
	At   time.Time
}

// RecordAttempt stores the outcome of an attempt of delivery id and
// releases its lease.
func (s *Store) RecordAttempt(ctx context.Context, id string, a Attempt) error {
	status, next, delivered := domain.DeliveryPending, a.Next, any(nil)
	switch {
	case a.Delivered:
		status, next, delivered = domain.DeliveryDelivered, a.At, a.At.UTC()
	case a.Next.IsZero():
		status, next = domain.DeliveryFailed, a.At
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE subscription_deliveries SET status = ?, attempts = attempts + 1, last_status = ?,
		last_error = ?, next_attempt_at = ?, delivered_at = ?, lease_until = NULL WHERE id = ?`), status, a.Status, a.Error, next.UTC(), delivered, id)
	if err != nil {
		return fmt.Errorf("record attempt of %s: %w", id, err)
	}
	return nil
}

// SubscriptionDeliveries pages through a subscription's deliveries of
// community, newest first: ids before beforeID when set.
func (s *Store) SubscriptionDeliveries(ctx context.Context, community, subscriptionID, beforeID string, limit int) ([]domain.SubscriptionDelivery, error) {
	where, args := "d.community = ? AND d.subscription_id = ?", []any{community, subscriptionID}
	if beforeID != "" {
		where, args = where+" AND d.id < ?", append(args, beforeID)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+deliveryColumns+" FROM subscription_deliveries d WHERE "+where+" ORDER BY d.id DESC LIMIT ?"),
		append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", subscriptionID, err)
	}
	defer rows.Close()
	var out []domain.SubscriptionDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ReplayDelivery starts a delivery of community over: a new series of
// attempts from now, audited.
func (s *Store) ReplayDelivery(ctx context.Context, community, id string, now time.Time, audit Auditor) (domain.SubscriptionDelivery, error) {
	var out domain.SubscriptionDelivery
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE subscription_deliveries SET status = ?, attempts = 0, next_attempt_at = ?, lease_until = NULL
			WHERE community = ? AND id = ?`), domain.DeliveryPending, now.UTC(), community, id)
		if err != nil {
			return fmt.Errorf("replay delivery %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrDeliveryNotFound
		}
		if out, err = scanDelivery(tx.QueryRowContext(ctx, s.db.Rebind("SELECT "+deliveryColumns+" FROM subscription_deliveries d WHERE d.community = ? AND d.id = ?"),
			community, id)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, community, "subscription_delivery.replayed", "subscription_delivery", id)
	})
	return out, err
}

// RedactSubscriptionDeliveries empties, in tx, the data of community's
// deliveries about memberID (an erasure): the log keeps ids and outcomes.
func (s *Store) RedactSubscriptionDeliveries(ctx context.Context, tx *sql.Tx, community, memberID string) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE subscription_deliveries SET data = '{}' WHERE community = ? AND (subject = ? OR data LIKE ?)`),
		community, memberID, `%"memberId":"`+memberID+`"%`)
	if err != nil {
		return fmt.Errorf("redact deliveries of %s: %w", memberID, err)
	}
	return nil
}

// PruneSubscriptionDeliveries drops deliveries created before a time.
func (s *Store) PruneSubscriptionDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind("DELETE FROM subscription_deliveries WHERE created_at < ? AND status <> ?"), before.UTC(), domain.DeliveryPending)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	return res.RowsAffected()
}
