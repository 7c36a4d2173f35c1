package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// WithLevelEvents gives the store the events it publishes for the
// activities it records on its own: a referral credited when a newcomer's
// address is confirmed, activity kept unmatched that a member's new handle
// or address now matches. Run sets it; a store without it refuses to
// credit anyone.
func (s *Store) WithLevelEvents(ev LevelEvents) *Store {
	s.levelEvents = ev
	return s
}

var (
	errNoLevelEvents = errors.New("the store was given no level events to publish with")
	errNobody        = errors.New("the activity names nobody")
)

const sourceColumns = "community, name, kind, secret, previous_secret, previous_expires_at, created_at, last_delivery_at"

func scanSource(row interface{ Scan(...any) error }) (domain.ActivitySource, error) {
	var src domain.ActivitySource
	var kind string
	var prevExpires, last sql.NullTime
	err := row.Scan(&src.Community, &src.Name, &kind, &src.Secret, &src.PreviousSecret, &prevExpires, &src.CreatedAt, &last)
	if err != nil {
		return src, err
	}
	src.Kind, src.CreatedAt = domain.ActivitySourceKind(kind), src.CreatedAt.UTC()
	if prevExpires.Valid {
		src.PreviousExpiresAt = prevExpires.Time.UTC()
	}
	if last.Valid {
		src.LastDeliveryAt = last.Time.UTC()
	}
	return src, nil
}

// CreateSource stores a new activity source of its community and, unless
// the community weighs the source already, gives it a weight of 1 in the
// community's settings, so what it brings in counts from the start —
// audited, in one transaction. domain.ErrSourceExists for a taken name,
// domain.ErrTooManySources past the limit.
func (s *Store) CreateSource(ctx context.Context, src domain.ActivitySource, by string, audit Auditor) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		settings, err := s.settings(ctx, tx, src.Community)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM activity_sources WHERE community = ?"), src.Community).Scan(&n); err != nil {
			return fmt.Errorf("count activity sources: %w", err)
		}
		if n >= domain.MaxSources {
			return domain.ErrTooManySources
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO activity_sources (community, name, kind, secret, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?)`), src.Community, src.Name, string(src.Kind), src.Secret, src.CreatedAt, by)
		if db.IsUniqueViolation(err) {
			return domain.ErrSourceExists
		}
		if err != nil {
			return fmt.Errorf("create activity source %s: %w", src.Name, err)
		}
		if _, weighed := settings.SourceWeights[src.Name]; !weighed {
			if settings.SourceWeights == nil {
				settings.SourceWeights = map[string]int{}
			}
			settings.SourceWeights[src.Name] = 1
			if err := s.saveSettingsTx(ctx, tx, settings); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, src.Community, "activity_source.created", "activity_source", src.Name)
	})
}

// Sources lists a community's activity sources by name.
func (s *Store) Sources(ctx context.Context, community string) ([]domain.ActivitySource, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+sourceColumns+" FROM activity_sources WHERE community = ? ORDER BY name"), community)
	if err != nil {
		return nil, fmt.Errorf("list activity sources: %w", err)
	}
	defer rows.Close()
	var out []domain.ActivitySource
	for rows.Next() {
		src, err := scanSource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, rows.Err()
}

// Source reads one activity source of community; domain.ErrSourceNotFound
// when it has none of that name.
func (s *Store) Source(ctx context.Context, community, name string) (domain.ActivitySource, error) {
	return s.source(ctx, s.db, community, name)
}

func (s *Store) source(ctx context.Context, q querier, community, name string) (domain.ActivitySource, error) {
	src, err := scanSource(q.QueryRowContext(ctx, s.db.Rebind("SELECT "+sourceColumns+" FROM activity_sources WHERE community = ? AND name = ?"), community, name))
	if errors.Is(err, sql.ErrNoRows) {
		return src, domain.ErrSourceNotFound
	}
	if err != nil {
		return src, fmt.Errorf("read activity source %s: %w", name, err)
	}
	return src, nil
}

// RotateSourceSecret gives a source of community a new secret; the current
// one keeps working until previousUntil. Audited.
func (s *Store) RotateSourceSecret(ctx context.Context, community, name, secret string, previousUntil time.Time, audit Auditor) (domain.ActivitySource, error) {
	var out domain.ActivitySource
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE activity_sources SET previous_secret = secret, previous_expires_at = ?, secret = ?
			WHERE community = ? AND name = ?`), previousUntil.UTC(), secret, community, name)
		if err != nil {
			return fmt.Errorf("rotate secret of %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrSourceNotFound
		}
		if out, err = s.source(ctx, tx, community, name); err != nil {
			return err
		}
		return audit.Record(ctx, tx, community, "activity_source.secret_rotated", "activity_source", name)
	})
	return out, err
}

// DeleteSource removes a source of community with its delivery log and the
// activity it kept unmatched; the activities it brought in stay. Audited.
func (s *Store) DeleteSource(ctx context.Context, community, name string, audit Auditor) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM activity_sources WHERE community = ? AND name = ?"), community, name)
		if err != nil {
			return fmt.Errorf("delete activity source %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.ErrSourceNotFound
		}
		for _, q := range []string{"DELETE FROM ingest_deliveries WHERE community = ? AND source = ?", "DELETE FROM pending_activities WHERE community = ? AND source = ?"} {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(q), community, name); err != nil {
				return fmt.Errorf("delete activity source %s: %w", name, err)
			}
		}
		return audit.Record(ctx, tx, community, "activity_source.deleted", "activity_source", name)
	})
}

// Incoming is an activity from outside the ledger: from a source's
// webhook or an organiser's bulk record. Activity has no member yet; Who
// says who it is about.
type Incoming struct {
	Activity domain.Activity
	Who      domain.Identity
}

// Outcome is what became of one Incoming.
type Outcome struct {
	MemberID string
	// Recorded is a new activity; Duplicate one recorded before;
	// Unmatched one kept for later; otherwise Err says why it failed.
	Recorded, Duplicate, Unmatched bool
	Err                            error
}

// Ingest records what one delivery of a source of community holds, once
// per delivery id: each activity goes into the ledger of the member it
// matches, or is kept unmatched; the members it reached are rescored, the
// delivery is logged with its outcome, and — when anything changed — the
// delivery is audited, all in one transaction. A delivery id seen before
// changes nothing and returns the delivery as logged then, with dup true.
func (s *Store) Ingest(ctx context.Context, d domain.Delivery, items []Incoming, settings domain.Settings, audit Auditor) (domain.Delivery, bool, error) {
	res, err := s.IngestMany(ctx, []IngestJob{{Ctx: ctx, Delivery: d, Items: items, Settings: settings}}, audit)
	if err != nil {
		return d, false, err
	}
	return res[0].Delivery, res[0].Duplicate, res[0].Err
}

// IngestJob is one delivery for IngestMany; Ctx carries its caller (the
// source) for the audit log.
type IngestJob struct {
	Ctx      context.Context
	Delivery domain.Delivery
	Items    []Incoming
	Settings domain.Settings
}

// IngestResult is what became of one IngestJob.
type IngestResult struct {
	Delivery  domain.Delivery
	Duplicate bool
	Err       error
}

// IngestMany ingests several deliveries in one transaction — deliveries
// arriving together share one commit — each as Ingest does. When the
// shared transaction fails, each delivery is tried again in one of its
// own, so one delivery's trouble does not fail the others.
func (s *Store) IngestMany(ctx context.Context, jobs []IngestJob, audit Auditor) ([]IngestResult, error) {
	if s.levelEvents == nil {
		return nil, errNoLevelEvents
	}
	results := make([]IngestResult, len(jobs))
	touched := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		touched = false
		for i, j := range jobs {
			d, dup, err := s.ingestTx(j.Ctx, tx, j.Delivery, j.Items, j.Settings, audit)
			if err != nil {
				return err
			}
			results[i] = IngestResult{Delivery: d, Duplicate: dup}
			touched = touched || d.Recorded > 0 && !dup
		}
		return nil
	})
	if err != nil && len(jobs) > 1 {
		for i, j := range jobs {
			r, err := s.IngestMany(ctx, jobs[i:i+1], audit)
			if err != nil {
				results[i] = IngestResult{Delivery: j.Delivery, Err: err}
				continue
			}
			results[i] = r[0]
		}
		return results, nil
	}
	if err != nil {
		return nil, err
	}
	if touched {
		s.outbox.Notify()
	}
	return results, nil
}

// ingestTx ingests one delivery in tx.
func (s *Store) ingestTx(ctx context.Context, tx *sql.Tx, d domain.Delivery, items []Incoming, settings domain.Settings, audit Auditor) (domain.Delivery, bool, error) {
	res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO ingest_deliveries (community, source, delivery_id, event, received_at, outcome, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (community, source, delivery_id) DO NOTHING`),
		d.Community, d.Source, d.DeliveryID, d.Event, d.ReceivedAt, domain.DeliveryIgnored, d.Reason)
	if err != nil {
		return d, false, fmt.Errorf("log delivery %s: %w", d.DeliveryID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return d, true, s.readDelivery(ctx, tx, &d)
	}
	outcomes, err := s.applyIncoming(ctx, tx, d.Community, items, settings, d.ReceivedAt)
	if err != nil {
		return d, false, err
	}
	var failed int
	var firstErr error
	for _, o := range outcomes {
		switch {
		case o.Recorded:
			d.Recorded++
		case o.Unmatched:
			d.Unmatched++
		case o.Err != nil:
			if failed++; firstErr == nil {
				firstErr = o.Err
			}
		}
	}
	switch {
	case len(items) > 0 && failed == len(items):
		// Nothing of it counts: logged as ignored, with why, never as recorded.
		d.Outcome = domain.DeliveryIgnored
	case d.Unmatched > 0:
		d.Outcome = domain.DeliveryUnmatched
	case len(items) > 0:
		d.Outcome = domain.DeliveryRecorded
	default:
		d.Outcome = domain.DeliveryIgnored
	}
	switch {
	case d.Reason != "":
	case failed > 0:
		d.Reason = fmt.Sprintf("%d of %d activities could not be recorded: %v", failed, len(items), firstErr)
	case len(items) > 0 && d.Recorded+d.Unmatched == 0:
		d.Reason = "every activity was recorded before"
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE ingest_deliveries SET outcome = ?, reason = ?, recorded = ?, unmatched = ?
		WHERE community = ? AND source = ? AND delivery_id = ?`), d.Outcome, d.Reason, d.Recorded, d.Unmatched, d.Community, d.Source, d.DeliveryID); err != nil {
		return d, false, fmt.Errorf("log delivery %s: %w", d.DeliveryID, err)
	}
	// The source's last delivery, to the minute: no write per delivery.
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE activity_sources SET last_delivery_at = ? WHERE community = ? AND name = ?
		AND (last_delivery_at IS NULL OR last_delivery_at < ?)`), d.ReceivedAt, d.Community, d.Source, d.ReceivedAt.Add(-time.Minute)); err != nil {
		return d, false, fmt.Errorf("note delivery of %s: %w", d.Source, err)
	}
	if d.Recorded+d.Unmatched == 0 {
		return d, false, nil
	}
	return d, false, audit.Record(ctx, tx, d.Community, "activities.ingested", "activity_source", d.Source)
}

func (s *Store) readDelivery(ctx context.Context, q querier, d *domain.Delivery) error {
	return q.QueryRowContext(ctx, s.db.Rebind(`SELECT event, received_at, outcome, reason, recorded, unmatched FROM ingest_deliveries
		WHERE community = ? AND source = ? AND delivery_id = ?`), d.Community, d.Source, d.DeliveryID).
		Scan(&d.Event, &d.ReceivedAt, &d.Outcome, &d.Reason, &d.Recorded, &d.Unmatched)
}

// RecordIncoming records an organiser's bulk activities of community, each
// matched as Ingest does, in one transaction audited once.
func (s *Store) RecordIncoming(ctx context.Context, community string, items []Incoming, settings domain.Settings, audit Auditor) ([]Outcome, error) {
	if s.levelEvents == nil {
		return nil, errNoLevelEvents
	}
	var outcomes []Outcome
	changed := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if outcomes, err = s.applyIncoming(ctx, tx, community, items, settings, now()); err != nil {
			return err
		}
		for _, o := range outcomes {
			changed = changed || o.Recorded || o.Unmatched
		}
		if !changed {
			return nil
		}
		return audit.Record(ctx, tx, community, "activities.recorded", "community", community)
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.outbox.Notify()
	}
	return outcomes, nil
}

// applyIncoming records items in tx: each into the ledger of the member it
// matches (a member id of the community, a verified address, a linked
// handle), or kept unmatched when it matches nobody by address or handle;
// a member id of nobody fails. The members reached are rescored once each.
func (s *Store) applyIncoming(ctx context.Context, tx *sql.Tx, community string, items []Incoming, settings domain.Settings, receivedAt time.Time) ([]Outcome, error) {
	outcomes := make([]Outcome, len(items))
	reached := map[string]*standing{}
	var order []string
	for i, it := range items {
		if it.Who.IsZero() {
			outcomes[i].Err = errNobody
			continue
		}
		memberID, err := s.match(ctx, tx, community, it.Who)
		if err != nil {
			return nil, err
		}
		if memberID == "" {
			if it.Who.MemberID != "" {
				outcomes[i].Err = domain.ErrNotFound
				continue
			}
			kept, err := s.keepPending(ctx, tx, community, it, receivedAt)
			if err != nil {
				return nil, err
			}
			outcomes[i].Unmatched, outcomes[i].Duplicate = kept, !kept
			continue
		}
		m, ok := reached[memberID]
		if !ok {
			st, err := s.standing(ctx, tx, community, memberID)
			if errors.Is(err, domain.ErrNotFound) {
				outcomes[i].Err = domain.ErrNotFound
				continue
			}
			if err != nil {
				return nil, err
			}
			if st.Status == domain.StatusErased || st.Status == domain.StatusLeft {
				outcomes[i].Err = domain.ErrNotFound
				continue
			}
			m, reached[memberID] = &st, &st
			order = append(order, memberID)
		}
		a := it.Activity
		a.Community, a.MemberID = community, memberID
		if a.ID == "" {
			a.ID = uuid.Must(uuid.NewV7()).String()
		}
		recorded, err := s.recordTx(ctx, tx, m, a, s.levelEvents)
		if err != nil {
			return nil, err
		}
		outcomes[i] = Outcome{MemberID: memberID, Recorded: recorded, Duplicate: !recorded}
	}
	for _, id := range order {
		if _, err := s.rescoreAndPublish(ctx, tx, *reached[id], settings, s.levelEvents, time.Now()); err != nil {
			return nil, err
		}
	}
	return outcomes, nil
}

// match finds the member of community who is who: by id, by verified
// address, or by a linked handle. "" when nobody is.
func (s *Store) match(ctx context.Context, q querier, community string, who domain.Identity) (string, error) {
	var id string
	var err error
	switch {
	case who.MemberID != "":
		err = q.QueryRowContext(ctx, s.db.Rebind("SELECT id FROM members WHERE community = ? AND id = ?"), community, who.MemberID).Scan(&id)
	case who.Email != "":
		err = q.QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM members WHERE community = ? AND email = ? AND email_verified
			AND status NOT IN ('erased', 'left')`), community, who.Email).Scan(&id)
	case who.Provider != "" && who.Handle != "":
		err = q.QueryRowContext(ctx, s.db.Rebind("SELECT member_id FROM member_handles WHERE community = ? AND provider = ? AND handle_key = ?"),
			community, who.Provider, domain.HandleKey(who.Handle)).Scan(&id)
	default:
		return "", nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("match an activity to a member: %w", err)
	}
	return id, nil
}

// keepPending keeps an activity nobody matched, once per source event id.
func (s *Store) keepPending(ctx context.Context, tx *sql.Tx, community string, it Incoming, receivedAt time.Time) (bool, error) {
	props, err := encodeProperties(it.Activity.Properties)
	if err != nil {
		return false, err
	}
	handleKey := ""
	if it.Who.Handle != "" {
		handleKey = domain.HandleKey(it.Who.Handle)
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO pending_activities (id, community, source, provider, handle, handle_key, email, type,
		occurred_at, source_event_id, properties, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (community, source_event_id) DO NOTHING`),
		uuid.Must(uuid.NewV7()).String(), community, it.Activity.Source, it.Who.Provider, it.Who.Handle, handleKey, it.Who.Email,
		it.Activity.Type, it.Activity.OccurredAt, it.Activity.SourceEventID, props, receivedAt)
	if err != nil {
		return false, fmt.Errorf("keep unmatched activity: %w", err)
	}
	// One recorded before under the same id, for a member, is a duplicate too.
	n, _ := res.RowsAffected()
	if n == 0 {
		return false, nil
	}
	var recorded int
	if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM activities WHERE community = ? AND source_event_id = ?"),
		community, it.Activity.SourceEventID).Scan(&recorded); err != nil {
		return false, err
	}
	if recorded > 0 {
		_, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM pending_activities WHERE community = ? AND source_event_id = ?"), community, it.Activity.SourceEventID)
		return false, err
	}
	return true, nil
}

// claimPending records for member m the kept activities matching where
// (a provider's handle, or an address), removes them from the kept ones and
// rescores m, in tx. It returns how many it recorded.
func (s *Store) claimPending(ctx context.Context, tx *sql.Tx, m standing, where string, args ...any) (int, error) {
	if s.levelEvents == nil {
		return 0, errNoLevelEvents
	}
	rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT id, source, type, occurred_at, source_event_id, properties FROM pending_activities
		WHERE community = ? AND `+where+" ORDER BY occurred_at, id"), append([]any{m.Community}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("read kept activities: %w", err)
	}
	var kept []domain.Activity
	var ids []string
	for rows.Next() {
		var id, props string
		a := domain.Activity{Community: m.Community, MemberID: m.ID}
		if err := rows.Scan(&id, &a.Source, &a.Type, &a.OccurredAt, &a.SourceEventID, &props); err != nil {
			rows.Close()
			return 0, err
		}
		a.ID, a.OccurredAt, a.Properties = uuid.Must(uuid.NewV7()).String(), a.OccurredAt.UTC(), decodeProperties(props)
		kept, ids = append(kept, a), append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(kept) == 0 {
		return 0, err
	}
	settings, err := s.settings(ctx, tx, m.Community)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, a := range kept {
		recorded, err := s.recordTx(ctx, tx, &m, a, s.levelEvents)
		if err != nil {
			return 0, err
		}
		if recorded {
			n++
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM pending_activities WHERE community = ? AND id = ?"), m.Community, ids[i]); err != nil {
			return 0, err
		}
	}
	if _, err := s.rescoreAndPublish(ctx, tx, m, settings, s.levelEvents, time.Now()); err != nil {
		return 0, err
	}
	return n, nil
}

// claimPendingByEmail records the kept activities about a member's newly
// verified address for them.
func (s *Store) claimPendingByEmail(ctx context.Context, tx *sql.Tx, community, memberID, email string) error {
	if email == "" {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM pending_activities WHERE community = ? AND email = ?"), community, email).Scan(&n); err != nil || n == 0 {
		return err
	}
	m, err := s.standing(ctx, tx, community, memberID)
	if err != nil {
		return err
	}
	_, err = s.claimPending(ctx, tx, m, "email = ?", email)
	return err
}

// LinkHandle links a handle at a provider to a member of community — or
// replaces the member's handle there — and records for them the activity
// kept unmatched for that handle, audited, in one transaction. It returns
// how many kept activities it recorded; domain.ErrHandleTaken when
// another member has the handle.
func (s *Store) LinkHandle(ctx context.Context, h domain.Handle, by string, audit Auditor) (int, error) {
	matched := 0
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		m, err := s.standing(ctx, tx, h.Community, h.MemberID)
		if err != nil {
			return err
		}
		if m.Status == domain.StatusErased {
			return domain.ErrErased
		}
		key := domain.HandleKey(h.Handle)
		var owner string
		err = tx.QueryRowContext(ctx, s.db.Rebind("SELECT member_id FROM member_handles WHERE community = ? AND provider = ? AND handle_key = ?"),
			h.Community, h.Provider, key).Scan(&owner)
		switch {
		case err == nil && owner != h.MemberID:
			return domain.ErrHandleTaken
		case err == nil:
			return nil // linked already: nothing changes
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up handle: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM member_handles WHERE community = ? AND member_id = ? AND provider = ?"),
			h.Community, h.MemberID, h.Provider); err != nil {
			return fmt.Errorf("replace handle: %w", err)
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO member_handles (community, member_id, provider, handle, handle_key, linked_at, linked_by)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), h.Community, h.MemberID, h.Provider, h.Handle, key, h.LinkedAt, by)
		if db.IsUniqueViolation(err) {
			return domain.ErrHandleTaken
		}
		if err != nil {
			return fmt.Errorf("link handle: %w", err)
		}
		if matched, err = s.claimPending(ctx, tx, m, "provider = ? AND handle_key = ?", h.Provider, key); err != nil {
			return err
		}
		return audit.Record(ctx, tx, h.Community, "handle.linked", "member", h.MemberID)
	})
	if err == nil && matched > 0 {
		s.outbox.Notify()
	}
	return matched, err
}

// UnlinkHandle removes a member's handle at a provider, audited; removing
// one that is not there changes nothing.
func (s *Store) UnlinkHandle(ctx context.Context, community, memberID, provider string, audit Auditor) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind("DELETE FROM member_handles WHERE community = ? AND member_id = ? AND provider = ?"),
			community, memberID, provider)
		if err != nil {
			return fmt.Errorf("unlink handle: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return audit.Record(ctx, tx, community, "handle.unlinked", "member", memberID)
	})
}

// Handles lists a member's handles of community, by provider.
func (s *Store) Handles(ctx context.Context, community, memberID string) ([]domain.Handle, error) {
	return s.handles(ctx, s.db, community, memberID)
}

func (s *Store) handles(ctx context.Context, q querier, community, memberID string) ([]domain.Handle, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind("SELECT provider, handle, linked_at FROM member_handles WHERE community = ? AND member_id = ? ORDER BY provider"),
		community, memberID)
	if err != nil {
		return nil, fmt.Errorf("list handles: %w", err)
	}
	defer rows.Close()
	var out []domain.Handle
	for rows.Next() {
		h := domain.Handle{Community: community, MemberID: memberID}
		if err := rows.Scan(&h.Provider, &h.Handle, &h.LinkedAt); err != nil {
			return nil, err
		}
		h.LinkedAt = h.LinkedAt.UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// Deliveries pages through community's delivery log, newest first: those
// received before (or, at equal times, with an id before) the cursor.
func (s *Store) Deliveries(ctx context.Context, community, source string, before time.Time, beforeID string, limit int) ([]domain.Delivery, error) {
	where, args := "community = ?", []any{community}
	if source != "" {
		where, args = where+" AND source = ?", append(args, source)
	}
	if !before.IsZero() {
		where, args = where+" AND (received_at < ? OR (received_at = ? AND delivery_id < ?))", append(args, before.UTC(), before.UTC(), beforeID)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT source, delivery_id, event, received_at, outcome, reason, recorded, unmatched
		FROM ingest_deliveries WHERE `+where+" ORDER BY received_at DESC, delivery_id DESC LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []domain.Delivery
	for rows.Next() {
		d := domain.Delivery{Community: community}
		if err := rows.Scan(&d.Source, &d.DeliveryID, &d.Event, &d.ReceivedAt, &d.Outcome, &d.Reason, &d.Recorded, &d.Unmatched); err != nil {
			return nil, err
		}
		d.ReceivedAt = d.ReceivedAt.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// Unmatched pages through community's kept activities after afterID,
// oldest first.
func (s *Store) Unmatched(ctx context.Context, community, source, afterID string, limit int) ([]domain.Pending, error) {
	where, args := "community = ? AND id > ?", []any{community, afterID}
	if source != "" {
		where, args = where+" AND source = ?", append(args, source)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, source, provider, handle, email, type, occurred_at, source_event_id, properties, received_at
		FROM pending_activities WHERE `+where+" ORDER BY id LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list unmatched activities: %w", err)
	}
	defer rows.Close()
	var out []domain.Pending
	for rows.Next() {
		p := domain.Pending{Community: community}
		var props string
		if err := rows.Scan(&p.ID, &p.Source, &p.Who.Provider, &p.Who.Handle, &p.Who.Email, &p.Activity.Type, &p.Activity.OccurredAt,
			&p.Activity.SourceEventID, &props, &p.ReceivedAt); err != nil {
			return nil, err
		}
		p.Activity.Source, p.Activity.OccurredAt, p.ReceivedAt, p.Activity.Properties = p.Source, p.Activity.OccurredAt.UTC(), p.ReceivedAt.UTC(), decodeProperties(props)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Prune removes delivery log entries and unmatched activities received
// before a time (their retention ends).
func (s *Store) Prune(ctx context.Context, deliveriesBefore, unmatchedBefore time.Time) (int64, error) {
	var total int64
	for _, step := range []struct {
		query string
		at    time.Time
	}{{"DELETE FROM ingest_deliveries WHERE received_at < ?", deliveriesBefore}, {"DELETE FROM pending_activities WHERE received_at < ?", unmatchedBefore}} {
		res, err := s.db.ExecContext(ctx, s.db.Rebind(step.query), step.at.UTC())
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
