package store

import (
	"context"
	"database/sql"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// ImportChange is one imported row's effect.
type ImportChange struct {
	// Create is true for a new member, false for an update of Member.
	Create   bool
	Member   domain.Member
	Consents []domain.ConsentRecord
	Events   []kafka.Event
}

// ApplyImport writes a batch of imported rows, audited as one
// members.imported entry, in one transaction. A concurrent join of the same
// address makes it fail with domain.ErrEmailTaken; the caller plans the
// batch again.
func (s *Store) ApplyImport(ctx context.Context, community string, changes []ImportChange, audit Auditor) error {
	if len(changes) == 0 {
		return nil
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := s.communityExists(ctx, tx, community)
		if err != nil {
			return err
		}
		if !ok {
			return domain.ErrUnknownCommunity
		}
		for _, c := range changes {
			if c.Create {
				err = s.insertMember(ctx, tx, c.Member)
			} else {
				err = s.updateMember(ctx, tx, c.Member)
			}
			if err != nil {
				return err
			}
			for _, rec := range c.Consents {
				if _, err := s.appendConsent(ctx, tx, community, rec); err != nil {
					return err
				}
			}
			if err := s.appendAll(ctx, tx, c.Events); err != nil {
				return err
			}
			if c.Create {
				// An imported address is vouched for: activity kept for it is theirs.
				if err := s.claimPendingByEmail(ctx, tx, community, c.Member.ID, c.Member.Email); err != nil {
					return err
				}
			}
		}
		return audit.Record(ctx, tx, community, "members.imported", "community", community)
	})
	if err != nil {
		return err
	}
	s.outbox.Notify()
	return nil
}
