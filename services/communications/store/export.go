package store

import (
	"context"
	"database/sql"
	"fmt"
)

// MemberData reads every row held about memberID of community — the
// recipient record with its tags and consents, the messages sent to them,
// the suppressions of their address — as column-to-value maps.
func (s *Store) MemberData(ctx context.Context, community, memberID string) (map[string][]map[string]any, error) {
	out := map[string][]map[string]any{}
	for _, table := range []string{"recipients", "recipient_tags", "recipient_consents", "messages"} {
		rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT * FROM "+table+" WHERE community = ? AND member_id = ?"), community, memberID)
		if err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", table, memberID, err)
		}
		if out[table], err = readMaps(rows); err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", table, memberID, err)
		}
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT s.* FROM suppressions s JOIN recipients r ON r.community = s.community AND r.email = s.email
		WHERE r.community = ? AND r.member_id = ?`), community, memberID)
	if err != nil {
		return nil, fmt.Errorf("read suppressions of %s: %w", memberID, err)
	}
	if out["suppressions"], err = readMaps(rows); err != nil {
		return nil, err
	}
	return out, nil
}

func readMaps(rows *sql.Rows) ([]map[string]any, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	list := []map[string]any{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := map[string]any{}
		for i, c := range cols {
			if b, ok := vals[i].([]byte); ok {
				vals[i] = string(b)
			}
			row[c] = vals[i]
		}
		list = append(list, row)
	}
	return list, rows.Err()
}
