package store

import (
	"context"
	"database/sql"
	"fmt"
)

// memberTables are the read side's tables that hold rows about one member,
// each with the community and member_id columns.
var memberTables = []string{"insights_members", "insights_activities", "insights_roles", "insights_role_changes",
	"insights_attendance", "insights_messages", "insights_unsubscribes", "insights_nominations"}

// MemberData reads every row about memberID of community, table by table,
// as column-to-value maps (times are Unix milliseconds, as stored).
func (s *Store) MemberData(ctx context.Context, community, memberID string) (map[string][]map[string]any, error) {
	out := map[string][]map[string]any{}
	for _, table := range memberTables {
		rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT * FROM "+table+" WHERE community = ? AND member_id = ?"), community, memberID)
		if err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", table, memberID, err)
		}
		list, err := readMaps(rows)
		if err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", table, memberID, err)
		}
		out[table] = list
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
