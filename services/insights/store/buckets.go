package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

// apply adds deltas to community's buckets in tx.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, community string, d domain.Deltas) error {
	if len(d) == 0 {
		return nil
	}
	keys := make([]domain.Key, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	// One order for every writer keeps PostgreSQL's row locks from
	// deadlocking.
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Bucket != b.Bucket {
			return a.Bucket < b.Bucket
		}
		if a.Dim != b.Dim {
			return a.Dim < b.Dim
		}
		return a.Day < b.Day
	})
	q := s.db.Rebind(`INSERT INTO insights_buckets (community, bucket, dim, day, value) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (community, bucket, dim, day) DO UPDATE SET value = insights_buckets.value + excluded.value`)
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, q, community, k.Bucket, k.Dim, int(k.Day), d[k]); err != nil {
			return fmt.Errorf("add to bucket %s: %w", k.Bucket, err)
		}
	}
	return nil
}

// Buckets reads bucket's daily values for days from..to, per breakdown
// value (all of them when dim is empty, else dim's): for a level bucket
// the level on each day, for a count what happened on it.
func (s *Store) Buckets(ctx context.Context, community, bucket, dim string, from, to domain.Day) (map[string][]float64, error) {
	out := map[string][]float64{}
	series := func(d string) []float64 {
		if v, ok := out[d]; ok {
			return v
		}
		v := make([]float64, int(to-from)+1)
		out[d] = v
		return v
	}
	filter, args := "community = ? AND bucket = ?", []any{community, bucket}
	if dim != "" {
		filter += " AND dim = ?"
		args = append(args, dim)
	}
	level := domain.LevelBuckets[bucket]
	if level {
		rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT dim, SUM(value) FROM insights_buckets WHERE "+filter+" AND day < ? GROUP BY dim"),
			append(args, int(from))...)
		if err != nil {
			return nil, fmt.Errorf("read %s before %s: %w", bucket, from, err)
		}
		for rows.Next() {
			var d string
			var sum int64
			if err := rows.Scan(&d, &sum); err != nil {
				rows.Close()
				return nil, err
			}
			v := series(d)
			for i := range v {
				v[i] = float64(sum)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT dim, day, value FROM insights_buckets WHERE "+filter+" AND day >= ? AND day <= ?"),
		append(args, int(from), int(to))...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", bucket, err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		var day int
		var value int64
		if err := rows.Scan(&d, &day, &value); err != nil {
			return nil, err
		}
		v := series(d)
		i := day - int(from)
		if !level {
			v[i] += float64(value)
			continue
		}
		for j := i; j < len(v); j++ {
			v[j] += float64(value)
		}
	}
	return out, rows.Err()
}

// BucketDeltas reads every stored delta of community, for comparing a
// live projection with a recomputed one.
func (s *Store) BucketDeltas(ctx context.Context, community string) (domain.Deltas, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind("SELECT bucket, dim, day, value FROM insights_buckets WHERE community = ?"), community)
	if err != nil {
		return nil, fmt.Errorf("read buckets: %w", err)
	}
	defer rows.Close()
	out := domain.Deltas{}
	for rows.Next() {
		var b, d string
		var day int
		var v int64
		if err := rows.Scan(&b, &d, &day, &v); err != nil {
			return nil, err
		}
		out.Add(b, d, domain.Day(day), v)
	}
	return out, rows.Err()
}
