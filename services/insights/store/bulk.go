package store

import (
	"context"
	"database/sql"

	"github.com/kinshiphq/kinship/services/insights/domain"
)

// Batch is facts read from the services' histories, written at once by
// Put before Recompute derives the buckets.
type Batch struct {
	Members       []domain.Member
	Activities    []Activity
	Roles         []domain.Role
	Occurrences   []domain.Occurrence
	Attendance    []domain.Attendance
	Messages      []domain.Message
	Unsubscribes  []domain.Unsubscribe
	Partners      []domain.Partner
	Agreements    []domain.Agreement
	Contributions []domain.Contribution
}

// Len is how many facts b holds.
func (b *Batch) Len() int {
	return len(b.Members) + len(b.Activities) + len(b.Roles) + len(b.Occurrences) + len(b.Attendance) + len(b.Messages) +
		len(b.Unsubscribes) + len(b.Partners) + len(b.Agreements) + len(b.Contributions)
}

// Put writes b's facts in tx without touching the buckets; a fact already
// there stays as it is.
func (s *Store) Put(ctx context.Context, tx *sql.Tx, community string, b *Batch) error {
	var rows [][]any
	put := func(table string, cols []string) error {
		err := s.insertMany(ctx, tx, table, cols, rows)
		rows = rows[:0]
		return err
	}
	for _, m := range b.Members {
		rows = append(rows, memberValues(community, m))
	}
	if err := put("insights_members", append([]string{"community"}, memberCols...)); err != nil {
		return err
	}
	for _, a := range b.Activities {
		rows = append(rows, []any{community, a.ID, a.MemberID, a.Type, a.At.UnixMilli()})
	}
	if err := put("insights_activities", []string{"community", "activity_id", "member_id", "type", "occurred_at"}); err != nil {
		return err
	}
	for _, r := range b.Roles {
		if err := s.putRole(ctx, tx, community, r, r.Changes); err != nil {
			return err
		}
	}
	for _, o := range b.Occurrences {
		rows = append(rows, []any{community, o.ID, o.EventID, ms(o.Start), ms(o.End), o.Known, o.Cancelled, ms(o.Version)})
	}
	if err := put("insights_occurrences", []string{"community", "occurrence_id", "event_id", "starts_at", "ends_at", "known", "cancelled", "version"}); err != nil {
		return err
	}
	for _, a := range b.Attendance {
		rows = append(rows, attendanceValues(community, a))
	}
	if err := put("insights_attendance", []string{"community", "occurrence_id", "member_id", "event_id", "status", "status_at", "waitlisted",
		"checked_in_at", "no_show_at", "rating", "rated_at"}); err != nil {
		return err
	}
	for _, m := range b.Messages {
		rows = append(rows, []any{community, m.ID, m.MemberID, m.Channel, m.IdempotencyKey, ms(m.SentAt), ms(m.BouncedAt), ms(m.FailedAt)})
	}
	if err := put("insights_messages", []string{"community", "message_id", "member_id", "channel", "idempotency_key", "sent_at", "bounced_at", "failed_at"}); err != nil {
		return err
	}
	for _, u := range b.Unsubscribes {
		rows = append(rows, []any{community, u.MemberID, u.Purpose, u.At.UnixMilli()})
	}
	if err := put("insights_unsubscribes", []string{"community", "member_id", "purpose", "occurred_at"}); err != nil {
		return err
	}
	var moves [][]any
	for _, p := range b.Partners {
		if !p.AddedAt.IsZero() {
			rows = append(rows, []any{community, p.ID, ms(p.AddedAt)})
		}
		for _, mv := range p.Moves {
			moves = append(moves, []any{community, p.ID, mv.At.UnixMilli(), mv.Stage})
		}
	}
	if err := put("insights_partners", []string{"community", "partner_id", "added_at"}); err != nil {
		return err
	}
	if err := s.insertMany(ctx, tx, "insights_partner_moves", []string{"community", "partner_id", "changed_at", "stage"}, moves); err != nil {
		return err
	}
	for _, a := range b.Agreements {
		rows = append(rows, []any{community, a.ID, a.PartnerID, int(a.Start), nullDay(a.End, a.HasEnd), nullDay(a.SignedOn, a.Signed),
			nullDay(a.EndedOn, a.Ended), ms(a.Version)})
	}
	if err := put("insights_agreements", []string{"community", "agreement_id", "partner_id", "start_day", "end_day", "signed_on", "ended_on", "version"}); err != nil {
		return err
	}
	for _, c := range b.Contributions {
		rows = append(rows, []any{community, c.ID, c.PartnerID, c.Kind, int(c.Day), c.Currency, c.AmountMinor, c.VolunteerMinutes})
	}
	return put("insights_contributions", []string{"community", "contribution_id", "partner_id", "kind", "day", "currency", "amount_minor", "volunteer_minutes"})
}
