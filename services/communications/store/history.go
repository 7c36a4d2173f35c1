package store

import (
	"context"
	"database/sql"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
)

// messageStates are the delivery log's states as history facts. in_doubt
// has none: whether it was sent is not known, and no event said either, so
// its fact says neither (unspecified).
var messageStates = map[string]insightsv1.MessageStateFact{
	"pending": insightsv1.MessageStateFact_MESSAGE_STATE_FACT_PENDING, "sent": insightsv1.MessageStateFact_MESSAGE_STATE_FACT_SENT,
	"failed": insightsv1.MessageStateFact_MESSAGE_STATE_FACT_FAILED, "bounced": insightsv1.MessageStateFact_MESSAGE_STATE_FACT_BOUNCED,
	"suppressed": insightsv1.MessageStateFact_MESSAGE_STATE_FACT_SUPPRESSED,
}

// History streams, in batches of up to 1,000, the facts of community the
// insights service rebuilds from: every message of the delivery log with
// its channel, outcome and idempotency key — never its address or
// content. The log keeps no time of a failure, so a failed message is
// dated by when it was queued; unsubscribes are not kept with their time
// and are not in the history.
func (s *Store) History(ctx context.Context, community string, send func([]*insightsv1.HistoryRecord) error) error {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, member_id, channel, status, sent_at, created_at, idempotency_key FROM messages
		WHERE community = ? ORDER BY id`), community)
	if err != nil {
		return fmt.Errorf("read communications history: %w", err)
	}
	defer rows.Close()
	var batch []*insightsv1.HistoryRecord
	for rows.Next() {
		f := &insightsv1.MessageFact{}
		var status string
		var sent sql.NullTime
		var created sql.NullTime
		if err := rows.Scan(&f.MessageId, &f.MemberId, &f.Channel, &status, &sent, &created, &f.IdempotencyKey); err != nil {
			return fmt.Errorf("read communications history: %w", err)
		}
		f.State = messageStates[status]
		if sent.Valid {
			f.SentAt = timestamppb.New(sent.Time)
		}
		switch status {
		case "bounced":
			f.SettledAt = f.SentAt
		case "failed", "suppressed":
			f.SettledAt = timestamppb.New(created.Time)
		}
		if batch = append(batch, &insightsv1.HistoryRecord{Fact: &insightsv1.HistoryRecord_Message{Message: f}}); len(batch) == 1000 {
			if err := send(batch); err != nil {
				return err
			}
			batch = nil
		}
	}
	if err := rows.Err(); err != nil || len(batch) == 0 {
		return err
	}
	return send(batch)
}
