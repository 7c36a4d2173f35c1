package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kinshiphq/kinship/services/partners/domain"
)

// ForgetMember unlinks an erased member from community's contributions:
// each stays, the partner's, but names no member any more. The erasure is
// audited in the same transaction. It returns how many contributions
// named the member, so a second call counts zero; domain.ErrUnknownCommunity
// when the community is not served here.
func (s *Store) ForgetMember(ctx context.Context, community, memberID string) (int, error) {
	var unlinked int
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := s.communityExists(ctx, tx, community)
		if err != nil {
			return err
		}
		if !ok {
			return domain.ErrUnknownCommunity
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind("UPDATE contributions SET member_id = '' WHERE community = ? AND member_id = ?"), community, memberID)
		if err != nil {
			return fmt.Errorf("unlink contributions of member %s: %w", memberID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("unlink contributions of member %s: %w", memberID, err)
		}
		unlinked = int(n)
		return s.record(ctx, tx, community, domain.ActionMemberForgotten, domain.TargetMember, memberID)
	})
	return unlinked, err
}
