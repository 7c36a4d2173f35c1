package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

const partnerColumns = `id, community, name, kind, sector, website, country_code, status, influence, interest, owner_id,
	next_review_date, added_at, updated_at`

func scanPartner(row interface{ Scan(...any) error }) (domain.Partner, error) {
	var p domain.Partner
	var kind, status string
	st := &p.Stakeholder
	err := row.Scan(&p.ID, &p.Community, &p.Name, &kind, &p.Sector, &p.Website, &p.CountryCode, &status, &st.Influence, &st.Interest,
		&st.OwnerID, dateCol{&st.NextReview}, &p.AddedAt, &p.UpdatedAt)
	if err != nil {
		return p, err
	}
	p.Kind, p.Status = domain.PartnerKind(kind), domain.Status(status)
	p.AddedAt, p.UpdatedAt = p.AddedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// nameKey folds a partner's name for the uniqueness check.
func nameKey(name string) string { return strings.ToLower(strings.Join(strings.Fields(name), " ")) }

// CreatePartner stores p, its first status and its events in one
// transaction. It returns domain.ErrUnknownCommunity or
// domain.ErrNameTaken, and then nothing is stored or published.
func (s *Store) CreatePartner(ctx context.Context, p domain.Partner, addedBy string, events ...kafka.Event) error {
	return s.write(ctx, func(tx *sql.Tx) ([]kafka.Event, error) {
		ok, err := s.communityExists(ctx, tx, p.Community)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, domain.ErrUnknownCommunity
		}
		st := p.Stakeholder
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO partners (id, community, name, name_key, kind, sector, website, country_code,
			status, influence, interest, owner_id, next_review_date, added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			p.ID, p.Community, p.Name, nameKey(p.Name), string(p.Kind), p.Sector, p.Website, p.CountryCode, string(p.Status),
			st.Influence, st.Interest, st.OwnerID, dateArg(st.NextReview), p.AddedAt, p.UpdatedAt)
		if db.IsUniqueViolation(err) {
			return nil, domain.ErrNameTaken
		}
		if err != nil {
			return nil, fmt.Errorf("insert partner %s: %w", p.ID, err)
		}
		first := domain.StatusChange{PartnerID: p.ID, To: p.Status, ChangedAt: p.AddedAt, ChangedBy: addedBy}
		if err := s.insertStatusChange(ctx, tx, first); err != nil {
			return nil, err
		}
		return events, s.record(ctx, tx, p.Community, domain.ActionPartnerAdded, domain.TargetPartner, p.ID)
	})
}

// GetPartner returns one partner of community, or domain.ErrPartnerNotFound.
func (s *Store) GetPartner(ctx context.Context, community, id string) (domain.Partner, error) {
	return s.getPartner(ctx, s.db, community, id, false)
}

// forUpdate locks the rows a transaction reads before it writes them; SQLite
// needs no lock, its write transactions are serialised.
func (s *Store) forUpdate() string {
	if s.db.Dialect == db.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func (s *Store) getPartner(ctx context.Context, q querier, community, id string, lock bool) (domain.Partner, error) {
	query := "SELECT " + partnerColumns + " FROM partners WHERE community = ? AND id = ?"
	if lock {
		query += s.forUpdate()
	}
	p, err := scanPartner(q.QueryRowContext(ctx, s.db.Rebind(query), community, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, domain.ErrPartnerNotFound
	}
	if err != nil {
		return p, fmt.Errorf("get partner %s: %w", id, err)
	}
	return p, nil
}

// PartnerFilter narrows a list of partners; empty fields match all.
type PartnerFilter struct {
	Statuses []domain.Status
	Kinds    []domain.PartnerKind
}

func (f PartnerFilter) where(community string) (string, []any) {
	where, args := "WHERE community = ?", []any{community}
	if len(f.Statuses) > 0 {
		where += " AND status IN (" + placeholders(len(f.Statuses)) + ")"
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	if len(f.Kinds) > 0 {
		where += " AND kind IN (" + placeholders(len(f.Kinds)) + ")"
		for _, k := range f.Kinds {
			args = append(args, string(k))
		}
	}
	return where, args
}

// ListPartners returns up to limit partners of community matching f with
// ids after afterID (empty for the first page), in id order, which is the
// order they were added in.
func (s *Store) ListPartners(ctx context.Context, community string, f PartnerFilter, afterID string, limit int) ([]domain.Partner, error) {
	where, args := f.where(community)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+partnerColumns+" FROM partners "+where+" AND id > ? ORDER BY id LIMIT ?"),
		append(args, afterID, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list partners of %s: %w", community, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.Partner, error) { return scanPartner(r) })
}

// AllPartners returns every partner of community matching f, by name.
func (s *Store) AllPartners(ctx context.Context, community string, f PartnerFilter) ([]domain.Partner, error) {
	where, args := f.where(community)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+partnerColumns+" FROM partners "+where+" ORDER BY name_key, id"), args...)
	if err != nil {
		return nil, fmt.Errorf("list partners of %s: %w", community, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.Partner, error) { return scanPartner(r) })
}

// PartnerNames returns the names of community's partners by id.
func (s *Store) PartnerNames(ctx context.Context, community string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT id, name FROM partners WHERE community = ?"), community)
	if err != nil {
		return nil, fmt.Errorf("read partner names of %s: %w", community, err)
	}
	pairs, err := scanAll(rows, func(r *sql.Rows) ([2]string, error) {
		var p [2]string
		return p, r.Scan(&p[0], &p[1])
	})
	if err != nil {
		return nil, fmt.Errorf("read partner names of %s: %w", community, err)
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out, nil
}

// DueForReview returns up to limit partners of community whose next review
// is on or before day, earliest first.
func (s *Store) DueForReview(ctx context.Context, community string, day domain.Date, limit int) ([]domain.Partner, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+partnerColumns+` FROM partners
		WHERE community = ? AND next_review_date IS NOT NULL AND next_review_date <= ? ORDER BY next_review_date, name_key, id LIMIT ?`),
		community, day.String(), limit)
	if err != nil {
		return nil, fmt.Errorf("list partners due for review in %s: %w", community, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.Partner, error) { return scanPartner(r) })
}

// UpdatePartner reads partner id of community, lets change compute its new
// state and events, and stores both with an audit entry, in one
// transaction. When change returns no events nothing is written.
func (s *Store) UpdatePartner(ctx context.Context, community, id string, change func(domain.Partner) (domain.Partner, []kafka.Event, error)) (domain.Partner, error) {
	var out domain.Partner
	err := s.write(ctx, func(tx *sql.Tx) ([]kafka.Event, error) {
		current, err := s.getPartner(ctx, tx, community, id, true)
		if err != nil {
			return nil, err
		}
		next, events, err := change(current)
		if err != nil {
			return nil, err
		}
		out = next
		if len(events) == 0 {
			out = current
			return nil, nil
		}
		st := next.Stakeholder
		_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE partners SET name = ?, name_key = ?, kind = ?, sector = ?, website = ?,
			country_code = ?, influence = ?, interest = ?, owner_id = ?, next_review_date = ?, updated_at = ? WHERE community = ? AND id = ?`),
			next.Name, nameKey(next.Name), string(next.Kind), next.Sector, next.Website, next.CountryCode, st.Influence, st.Interest,
			st.OwnerID, dateArg(st.NextReview), next.UpdatedAt, community, id)
		if db.IsUniqueViolation(err) {
			return nil, domain.ErrNameTaken
		}
		if err != nil {
			return nil, fmt.Errorf("update partner %s: %w", id, err)
		}
		if st.OwnerID != current.Stakeholder.OwnerID {
			// The partner's open attention items follow it to its new
			// owner, who has been told nothing yet: the next sweep does.
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE attention_items SET owner_id = ?, notified_at = NULL, acknowledged_at = NULL
				WHERE community = ? AND partner_id = ? AND resolved_at IS NULL`), st.OwnerID, community, id); err != nil {
				return nil, fmt.Errorf("hand partner %s's attention items over: %w", id, err)
			}
		}
		return events, s.record(ctx, tx, community, domain.ActionPartnerUpdated, domain.TargetPartner, id)
	})
	return out, err
}

// ChangeStatus reads partner id of community, lets change decide the move
// and its events, and stores the new status, the history entry and the
// events in one transaction.
func (s *Store) ChangeStatus(ctx context.Context, community, id string, change func(domain.Partner) (domain.StatusChange, []kafka.Event, error)) (domain.Partner, error) {
	var out domain.Partner
	err := s.write(ctx, func(tx *sql.Tx) ([]kafka.Event, error) {
		p, err := s.getPartner(ctx, tx, community, id, true)
		if err != nil {
			return nil, err
		}
		sc, events, err := change(p)
		if err != nil {
			return nil, err
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE partners SET status = ?, updated_at = ? WHERE community = ? AND id = ? AND status = ?"),
			string(sc.To), sc.ChangedAt, community, id, string(sc.From))
		if err != nil {
			return nil, fmt.Errorf("change status of partner %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, domain.ErrConflict
		}
		if err := s.insertStatusChange(ctx, tx, sc); err != nil {
			return nil, err
		}
		p.Status, p.UpdatedAt = sc.To, sc.ChangedAt
		out = p
		return events, s.record(ctx, tx, community, domain.ActionPartnerStatusChanged, domain.TargetPartner, id)
	})
	return out, err
}

func (s *Store) insertStatusChange(ctx context.Context, tx *sql.Tx, sc domain.StatusChange) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO partner_status_history (id, partner_id, from_status, to_status, changed_at, changed_by, note)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), newID(), sc.PartnerID, string(sc.From), string(sc.To), sc.ChangedAt, sc.ChangedBy, sc.Note)
	if err != nil {
		return fmt.Errorf("record status of partner %s: %w", sc.PartnerID, err)
	}
	return nil
}

// StatusHistory returns partner id's moves along the pipeline, oldest
// first.
func (s *Store) StatusHistory(ctx context.Context, community, id string) ([]domain.StatusChange, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT h.partner_id, h.from_status, h.to_status, h.changed_at, h.changed_by, h.note
		FROM partner_status_history h JOIN partners p ON p.id = h.partner_id WHERE p.community = ? AND h.partner_id = ? ORDER BY h.id`), community, id)
	if err != nil {
		return nil, fmt.Errorf("read status history of partner %s: %w", id, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.StatusChange, error) {
		var sc domain.StatusChange
		var from, to string
		err := r.Scan(&sc.PartnerID, &from, &to, &sc.ChangedAt, &sc.ChangedBy, &sc.Note)
		sc.From, sc.To, sc.ChangedAt = domain.Status(from), domain.Status(to), sc.ChangedAt.UTC()
		return sc, err
	})
}

// filteredPartner checks a list's partner filter: empty, or a partner of
// community (domain.ErrPartnerNotFound otherwise), so another
// community's partner is not found rather than merely empty.
func (s *Store) filteredPartner(ctx context.Context, community, partnerID string) error {
	if partnerID == "" {
		return nil
	}
	_, err := s.GetPartner(ctx, community, partnerID)
	return err
}

// partnerInCommunity checks partnerID belongs to community, inside tx.
func (s *Store) partnerInCommunity(ctx context.Context, q querier, community, partnerID string) error {
	var n int
	if err := q.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM partners WHERE community = ? AND id = ?"), community, partnerID).Scan(&n); err != nil {
		return fmt.Errorf("look up partner %s: %w", partnerID, err)
	}
	if n == 0 {
		return domain.ErrUnknownPartner
	}
	return nil
}
