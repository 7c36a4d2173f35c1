package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/services/partners/domain"
)

const contactColumns = "id, community, partner_id, name, email, phone, role, is_primary, email_consent, erased, created_at, erased_at"

func scanContact(row interface{ Scan(...any) error }) (domain.Contact, error) {
	var c domain.Contact
	err := row.Scan(&c.ID, &c.Community, &c.PartnerID, &c.Name, &c.Email, &c.Phone, &c.Role, &c.Primary, &c.EmailConsent, &c.Erased,
		&c.CreatedAt, nullTime{&c.ErasedAt})
	c.CreatedAt = c.CreatedAt.UTC()
	return c, err
}

// CreateContact stores c and, when given, its first consent record, with
// an audit entry, in one transaction. A primary contact takes over from the partner's previous
// one. It returns domain.ErrUnknownPartner when the partner is not in the
// community.
func (s *Store) CreateContact(ctx context.Context, c domain.Contact, consent *domain.ConsentRecord) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.partnerInCommunity(ctx, tx, c.Community, c.PartnerID); err != nil {
			return err
		}
		if c.Primary {
			if err := s.clearPrimary(ctx, tx, c.Community, c.PartnerID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO contacts (id, community, partner_id, name, email, phone, role, is_primary,
			email_consent, erased, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			c.ID, c.Community, c.PartnerID, c.Name, c.Email, c.Phone, c.Role, c.Primary, consent != nil && consent.Granted, false, c.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert contact %s: %w", c.ID, err)
		}
		if consent != nil {
			if err := s.appendConsent(ctx, tx, c.Community, *consent); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, c.Community, domain.ActionContactAdded, domain.TargetContact, c.ID)
	})
}

func (s *Store) clearPrimary(ctx context.Context, tx *sql.Tx, community, partnerID string) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE contacts SET is_primary = ? WHERE community = ? AND partner_id = ? AND is_primary"),
		false, community, partnerID); err != nil {
		return fmt.Errorf("clear primary contact of %s: %w", partnerID, err)
	}
	return nil
}

// GetContact returns one contact of community, or domain.ErrContactNotFound.
func (s *Store) GetContact(ctx context.Context, community, id string) (domain.Contact, error) {
	return s.getContact(ctx, s.db, community, id, false)
}

func (s *Store) getContact(ctx context.Context, q querier, community, id string, lock bool) (domain.Contact, error) {
	query := "SELECT " + contactColumns + " FROM contacts WHERE community = ? AND id = ?"
	if lock {
		query += s.forUpdate()
	}
	c, err := scanContact(q.QueryRowContext(ctx, s.db.Rebind(query), community, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, domain.ErrContactNotFound
	}
	if err != nil {
		return c, fmt.Errorf("get contact %s: %w", id, err)
	}
	return c, nil
}

// ListContacts returns the contacts of a partner that are not erased, the
// primary one first; domain.ErrPartnerNotFound when the partner is not in
// the community.
func (s *Store) ListContacts(ctx context.Context, community, partnerID string) ([]domain.Contact, error) {
	if _, err := s.GetPartner(ctx, community, partnerID); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT "+contactColumns+
		" FROM contacts WHERE community = ? AND partner_id = ? AND NOT erased ORDER BY is_primary DESC, id"), community, partnerID)
	if err != nil {
		return nil, fmt.Errorf("list contacts of %s: %w", partnerID, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.Contact, error) { return scanContact(r) })
}

// UpdateContact reads contact id, lets change compute its new state and
// stores it, in one transaction; a contact made primary takes over from
// the partner's previous one.
func (s *Store) UpdateContact(ctx context.Context, community, id string, change func(domain.Contact) (domain.Contact, error)) (domain.Contact, error) {
	var out domain.Contact
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		current, err := s.getContact(ctx, tx, community, id, true)
		if err != nil {
			return err
		}
		next, err := change(current)
		if err != nil {
			return err
		}
		if next.Primary && !current.Primary {
			if err := s.clearPrimary(ctx, tx, community, current.PartnerID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`UPDATE contacts SET name = ?, email = ?, phone = ?, role = ?, is_primary = ?
			WHERE community = ? AND id = ? AND NOT erased`), next.Name, next.Email, next.Phone, next.Role, next.Primary, community, id)
		if err != nil {
			return fmt.Errorf("update contact %s: %w", id, err)
		}
		out = next
		return s.record(ctx, tx, community, domain.ActionContactUpdated, domain.TargetContact, id)
	})
	return out, err
}

// RecordContactConsent appends rec to the contact's ledger and sets its
// current consent, in one transaction; domain.ErrContactErased for an
// erased contact.
func (s *Store) RecordContactConsent(ctx context.Context, community string, rec domain.ConsentRecord) (domain.Contact, error) {
	var out domain.Contact
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.getContact(ctx, tx, community, rec.ContactID, true)
		if err != nil {
			return err
		}
		if c.Erased {
			return domain.ErrContactErased
		}
		if err := s.appendConsent(ctx, tx, community, rec); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE contacts SET email_consent = ? WHERE community = ? AND id = ?"),
			rec.Granted, community, rec.ContactID); err != nil {
			return fmt.Errorf("update consent of contact %s: %w", rec.ContactID, err)
		}
		c.EmailConsent = rec.Granted
		out = c
		return s.record(ctx, tx, community, domain.ActionContactConsentRecorded, domain.TargetContact, rec.ContactID)
	})
	return out, err
}

func (s *Store) appendConsent(ctx context.Context, tx *sql.Tx, community string, rec domain.ConsentRecord) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO contact_consents (id, community, contact_id, granted, occurred_at, source, policy_version)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), newID(), community, rec.ContactID, rec.Granted, rec.OccurredAt, rec.Source, rec.PolicyVersion)
	if err != nil {
		return fmt.Errorf("append consent of contact %s: %w", rec.ContactID, err)
	}
	return nil
}

// ContactConsents returns a contact's consent ledger, oldest first.
func (s *Store) ContactConsents(ctx context.Context, community, id string) ([]domain.ConsentRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT contact_id, granted, occurred_at, source, policy_version FROM contact_consents
		WHERE community = ? AND contact_id = ? ORDER BY id`), community, id)
	if err != nil {
		return nil, fmt.Errorf("read consents of contact %s: %w", id, err)
	}
	return scanAll(rows, func(r *sql.Rows) (domain.ConsentRecord, error) {
		var rec domain.ConsentRecord
		err := r.Scan(&rec.ContactID, &rec.Granted, &rec.OccurredAt, &rec.Source, &rec.PolicyVersion)
		rec.OccurredAt = rec.OccurredAt.UTC()
		return rec, err
	})
}

// EraseContact removes a contact's personal data — name, address, phone,
// role and the sources of its consents — and withdraws its consent. The id
// stays, pseudonymous, so interactions still count it. The audit record
// goes in the same transaction; domain.ErrContactErased when it was
// erased before.
func (s *Store) EraseContact(ctx context.Context, community, id string, at time.Time) (domain.Contact, error) {
	var out domain.Contact
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := s.getContact(ctx, tx, community, id, true)
		if err != nil {
			return err
		}
		if c.Erased {
			return domain.ErrContactErased
		}
		erasedAt := at.UTC().Truncate(time.Microsecond)
		for _, stmt := range []struct {
			query string
			args  []any
		}{
			{`UPDATE contacts SET name = '', email = '', phone = '', role = '', is_primary = ?, email_consent = ?, erased = ?, erased_at = ?
				WHERE community = ? AND id = ?`, []any{false, false, true, erasedAt, community, id}},
			{"UPDATE contact_consents SET source = 'erased' WHERE community = ? AND contact_id = ?", []any{community, id}},
		} {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(stmt.query), stmt.args...); err != nil {
				return fmt.Errorf("erase contact %s: %w", id, err)
			}
		}
		if err := s.record(ctx, tx, community, domain.ActionContactErased, domain.TargetContact, id); err != nil {
			return err
		}
		out = domain.Contact{ID: c.ID, Community: c.Community, PartnerID: c.PartnerID, Erased: true, CreatedAt: c.CreatedAt, ErasedAt: erasedAt}
		return nil
	})
	return out, err
}
