package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/kinshiphq/kinship/services/members/domain"
)

// The rows of joins, written a table at a time for a whole batch: one
// statement carries the members of many joins, another all their
// interests, and so on. Each statement holds a power of two of rows
// (pow2Runs), so its text — by which SQLite's and pgx's prepared
// statements are cached — recurs.

// maxRowsPerStatement bounds the rows of one multi-row statement.
const maxRowsPerStatement = 64

// pow2Runs splits n rows into runs of powers of two, largest first, none
// over most.
func pow2Runs(n, most int) []int {
	var out []int
	for n > 0 {
		run := most
		for run > n {
			run /= 2
		}
		out, n = append(out, run), n-run
	}
	return out
}

// rows is the VALUES list of n rows of width placeholders each.
func rows(width, n int) string {
	row := "(" + placeholders(width) + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// insertValues inserts into table(columns) the rows in args, width values
// a row, with db.InsertRows' multi-row statements.
func (s *Store) insertValues(ctx context.Context, tx *sql.Tx, table, columns string, width int, args []any) error {
	rows := make([][]any, 0, len(args)/width)
	for i := 0; i+width <= len(args); i += width {
		rows = append(rows, args[i:i+width])
	}
	_, err := s.db.InsertRows(ctx, tx, "INSERT INTO "+table+" ("+columns+")", "", rows)
	return err
}

const memberInsertColumns = `id, community, email, display_name, email_consent, status, joined_at, locale, time_zone, city, region, country_code,
	motivation, availability_hours, source_kind, source_campaign, source_event_id, referrer_id, level, score,
	email_verified, pending_email, consent_asked`

const memberInsertWidth = 23

// insertMembers inserts the member rows of members, with emailConsent
// their email_consent, and returns the ids of those inserted: a member
// whose address (or id) the community has already is left out, and no
// statement fails for it — a failed statement would abort a PostgreSQL
// transaction other joins share.
func (s *Store) insertMembers(ctx context.Context, tx *sql.Tx, members []domain.Member, emailConsent []bool) (map[string]bool, error) {
	inserted := make(map[string]bool, len(members))
	for _, run := range pow2Runs(len(members), maxRowsPerStatement) {
		args := make([]any, 0, run*memberInsertWidth)
		for i, m := range members[:run] {
			p := m.Profile
			args = append(args, m.ID, m.Community, p.Email, p.DisplayName, emailConsent[i], m.Status.String(), m.JoinedAt.UTC(), p.Locale, p.TimeZone,
				p.Location.City, p.Location.Region, p.Location.CountryCode, p.Motivation, p.AvailabilityHours,
				string(m.Source.Kind), m.Source.Campaign, m.Source.EventID, m.Source.ReferrerID, m.Level, m.Score,
				m.EmailVerified, m.PendingEmail, m.ConsentAsked)
		}
		res, err := tx.QueryContext(ctx, s.db.Rebind("INSERT INTO members ("+memberInsertColumns+") VALUES "+rows(memberInsertWidth, run)+
			" ON CONFLICT DO NOTHING RETURNING id"), args...)
		if err != nil {
			return nil, fmt.Errorf("insert members: %w", err)
		}
		for res.Next() {
			var id string
			if err := res.Scan(&id); err != nil {
				_ = res.Close()
				return nil, fmt.Errorf("insert members: %w", err)
			}
			inserted[id] = true
		}
		if err := errors.Join(res.Err(), res.Close()); err != nil {
			return nil, fmt.Errorf("insert members: %w", err)
		}
		members, emailConsent = members[run:], emailConsent[run:]
	}
	return inserted, nil
}

// insertMembersTags stores the interests, skills and goals of members, who
// have none yet, and the terms a search finds them by: one statement a
// table.
func (s *Store) insertMembersTags(ctx context.Context, tx *sql.Tx, members []domain.Member) error {
	var terms []any
	for _, m := range members {
		for _, term := range domain.SearchTerms(m.DisplayName, m.Email) {
			terms = append(terms, m.Community, m.ID, term)
		}
	}
	if err := s.insertValues(ctx, tx, "member_search_terms", "community, member_id, term", 3, terms); err != nil {
		return fmt.Errorf("store search terms: %w", err)
	}
	for _, t := range tagTables() {
		var args []any
		for _, m := range members {
			for _, tag := range *t.get(&m.Profile) {
				args = append(args, m.Community, m.ID, tag)
			}
		}
		if err := s.insertValues(ctx, tx, t.table, "community, member_id, "+t.column, 3, args); err != nil {
			return fmt.Errorf("store %s: %w", t.table, err)
		}
	}
	return nil
}

// insertFirstConsents writes recs, the first consent record of each of
// members just stored (nil for none), to the ledger and makes those that
// grant the current consent: a new member has no current consent to read
// or replace.
func (s *Store) insertFirstConsents(ctx context.Context, tx *sql.Tx, members []domain.Member, recs []*domain.ConsentRecord) error {
	var ledger, current []any
	for i, rec := range recs {
		if rec == nil {
			continue
		}
		m := members[i]
		if rec.MemberID != m.ID {
			return fmt.Errorf("first consent of %s names member %s", m.ID, rec.MemberID)
		}
		ledger = append(ledger, uuid.Must(uuid.NewV7()).String(), m.Community, m.ID, rec.Purpose, rec.Granted, rec.OccurredAt, rec.Source, rec.PolicyVersion)
		if rec.Granted {
			current = append(current, m.Community, m.ID, rec.Purpose, true, rec.OccurredAt)
		}
	}
	if err := s.insertValues(ctx, tx, "consent_ledger", "id, community, member_id, purpose, granted, occurred_at, source, policy_version", 8, ledger); err != nil {
		return fmt.Errorf("append consents: %w", err)
	}
	if err := s.insertValues(ctx, tx, "consent_current", "community, member_id, purpose, granted, changed_at", 5, current); err != nil {
		return fmt.Errorf("update consents: %w", err)
	}
	return nil
}

// withPendingActivity returns the addresses among emails (all of
// community) for which activity is kept unmatched.
func (s *Store) withPendingActivity(ctx context.Context, tx *sql.Tx, community string, emails []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, run := range pow2Runs(len(emails), maxRowsPerStatement) {
		args := []any{community}
		for _, e := range emails[:run] {
			args = append(args, e)
		}
		res, err := tx.QueryContext(ctx, s.db.Rebind("SELECT DISTINCT email FROM pending_activities WHERE community = ? AND email IN ("+placeholders(run)+")"), args...)
		if err != nil {
			return nil, fmt.Errorf("look up kept activity: %w", err)
		}
		for res.Next() {
			var e string
			if err := res.Scan(&e); err != nil {
				_ = res.Close()
				return nil, err
			}
			out[e] = true
		}
		if err := errors.Join(res.Err(), res.Close()); err != nil {
			return nil, fmt.Errorf("look up kept activity: %w", err)
		}
		emails = emails[run:]
	}
	return out, nil
}
