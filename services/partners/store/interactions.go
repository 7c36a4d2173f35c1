package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

// Participant kinds of an interaction.
const (
	participantOrganiser = "organiser"
	participantContact   = "contact"
)

// CreateInteraction stores i, its participants, its events and an audit
// entry in one transaction. It returns domain.ErrUnknownPartner when the partner is not
// in the community, and domain.ErrUnknownContact when a contact is not the
// partner's or was erased.
func (s *Store) CreateInteraction(ctx context.Context, i domain.Interaction, events ...kafka.Event) error {
	return s.write(ctx, func(tx *sql.Tx) ([]kafka.Event, error) {
		if err := s.partnerInCommunity(ctx, tx, i.Community, i.PartnerID); err != nil {
			return nil, err
		}
		if len(i.ContactIDs) > 0 {
			args := []any{i.Community, i.PartnerID}
			for _, id := range i.ContactIDs {
				args = append(args, id)
			}
			var n int
			err := tx.QueryRowContext(ctx, s.db.Rebind("SELECT count(*) FROM contacts WHERE community = ? AND partner_id = ? AND NOT erased AND id IN ("+
				placeholders(len(i.ContactIDs))+")"), args...).Scan(&n)
			if err != nil {
				return nil, fmt.Errorf("look up contacts of %s: %w", i.PartnerID, err)
			}
			if n != len(i.ContactIDs) {
				return nil, domain.ErrUnknownContact
			}
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO interactions (id, community, partner_id, kind, occurred_at, notes, recorded_by, recorded_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), i.ID, i.Community, i.PartnerID, string(i.Kind), i.OccurredAt, i.Notes, i.RecordedBy, i.RecordedAt)
		if err != nil {
			return nil, fmt.Errorf("insert interaction %s: %w", i.ID, err)
		}
		for kind, ids := range map[string][]string{participantOrganiser: i.OrganiserIDs, participantContact: i.ContactIDs} {
			for _, id := range ids {
				if _, err := tx.ExecContext(ctx, s.db.Rebind("INSERT INTO interaction_participants (interaction_id, kind, participant_id) VALUES (?, ?, ?)"),
					i.ID, kind, id); err != nil {
					return nil, fmt.Errorf("insert participant of interaction %s: %w", i.ID, err)
				}
			}
		}
		return events, s.record(ctx, tx, i.Community, domain.ActionInteractionLogged, domain.TargetInteraction, i.ID)
	})
}

// InteractionCursor is where a page of interactions ends: the last
// interaction's time and id.
type InteractionCursor struct {
	OccurredAt time.Time
	ID         string
}

// ListInteractions returns up to limit interactions of a partner, newest
// first, after cursor (zero for the first page); domain.ErrPartnerNotFound
// when the partner is not in the community.
func (s *Store) ListInteractions(ctx context.Context, community, partnerID string, after InteractionCursor, limit int) ([]domain.Interaction, error) {
	if _, err := s.GetPartner(ctx, community, partnerID); err != nil {
		return nil, err
	}
	where, args := "WHERE community = ? AND partner_id = ?", []any{community, partnerID}
	if after.ID != "" {
		where += " AND (occurred_at < ? OR (occurred_at = ? AND id < ?))"
		args = append(args, after.OccurredAt.UTC(), after.OccurredAt.UTC(), after.ID)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, community, partner_id, kind, occurred_at, notes, recorded_by, recorded_at
		FROM interactions `+where+" ORDER BY occurred_at DESC, id DESC LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list interactions of %s: %w", partnerID, err)
	}
	out, err := scanAll(rows, func(r *sql.Rows) (domain.Interaction, error) {
		var i domain.Interaction
		var kind string
		err := r.Scan(&i.ID, &i.Community, &i.PartnerID, &kind, &i.OccurredAt, &i.Notes, &i.RecordedBy, &i.RecordedAt)
		i.Kind, i.OccurredAt, i.RecordedAt = domain.InteractionKind(kind), i.OccurredAt.UTC(), i.RecordedAt.UTC()
		return i, err
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	return out, s.loadParticipants(ctx, community, out)
}

// loadParticipants reads the participants of interactions of community;
// participants carry no community of their own and are reached through
// their interaction's.
func (s *Store) loadParticipants(ctx context.Context, community string, interactions []domain.Interaction) error {
	byID := map[string]*domain.Interaction{}
	args := make([]any, 0, len(interactions)+1)
	args = append(args, community)
	for i := range interactions {
		byID[interactions[i].ID] = &interactions[i]
		args = append(args, interactions[i].ID)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT p.interaction_id, p.kind, p.participant_id FROM interaction_participants p
		JOIN interactions i ON i.id = p.interaction_id WHERE i.community = ? AND p.interaction_id IN (`+placeholders(len(interactions))+`)
		ORDER BY p.interaction_id, p.kind, p.participant_id`), args...)
	if err != nil {
		return fmt.Errorf("read participants: %w", err)
	}
	triples, err := scanAll(rows, func(r *sql.Rows) ([3]string, error) {
		var t [3]string
		return t, r.Scan(&t[0], &t[1], &t[2])
	})
	if err != nil {
		return fmt.Errorf("read participants: %w", err)
	}
	for _, t := range triples {
		i := byID[t[0]]
		if t[1] == participantContact {
			i.ContactIDs = append(i.ContactIDs, t[2])
		} else {
			i.OrganiserIDs = append(i.OrganiserIDs, t[2])
		}
	}
	return nil
}
