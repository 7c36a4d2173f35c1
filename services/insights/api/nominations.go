package api

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/services/insights/domain"
	"github.com/kinshiphq/kinship/services/insights/events"
	"github.com/kinshiphq/kinship/services/insights/store"
)

// NominationSource reads the ambassador programme's nominations of a
// community, a page at a time: they live in the worker's workflows and
// are published as no event.
type NominationSource func(ctx context.Context, community string, each func([]domain.Nomination) error) error

// maxNominationPages bounds one read, against a journeys API that never
// ends its list.
const maxNominationPages = 10_000

// ConnectNominations reads the worker's journeys API (ListNominations).
func ConnectNominations(c journeysv1connect.JourneysServiceClient) NominationSource {
	return func(ctx context.Context, community string, each func([]domain.Nomination) error) error {
		token := ""
		for range maxNominationPages {
			res, err := c.ListNominations(ctx, connect.NewRequest(&journeysv1.ListNominationsRequest{Community: community, PageSize: 500, PageToken: token}))
			if err != nil {
				return fmt.Errorf("list nominations: %w", err)
			}
			batch := make([]domain.Nomination, 0, len(res.Msg.GetNominations()))
			for _, n := range res.Msg.GetNominations() {
				d, err := nominationOf(n)
				if err != nil {
					return err
				}
				batch = append(batch, d)
			}
			if err := each(batch); err != nil {
				return err
			}
			if token = res.Msg.GetNextPageToken(); token == "" {
				return nil
			}
		}
		return errors.New("list nominations: the list does not end")
	}
}

var nominationOutcomes = map[journeysv1.NominationOutcome]string{
	journeysv1.NominationOutcome_NOMINATION_OUTCOME_PENDING:    "",
	journeysv1.NominationOutcome_NOMINATION_OUTCOME_APPROVED:   domain.NominationApproved,
	journeysv1.NominationOutcome_NOMINATION_OUTCOME_REJECTED:   domain.NominationRejected,
	journeysv1.NominationOutcome_NOMINATION_OUTCOME_EXPIRED:    domain.NominationExpired,
	journeysv1.NominationOutcome_NOMINATION_OUTCOME_WITHDRAWN:  domain.NominationWithdrawn,
	journeysv1.NominationOutcome_NOMINATION_OUTCOME_INELIGIBLE: domain.NominationIneligible,
	journeysv1.NominationOutcome_NOMINATION_OUTCOME_ENDED:      domain.NominationEnded,
}

// nominationOf is a nomination as the insights service keeps it; one
// decided without a time counts as pending.
func nominationOf(n *journeysv1.Nomination) (domain.Nomination, error) {
	outcome, ok := nominationOutcomes[n.GetOutcome()]
	if n.GetId() == "" || n.GetNominatedAt() == nil || !ok {
		return domain.Nomination{}, fmt.Errorf("nomination %q lacks its id, time or a known outcome", n.GetId())
	}
	d := domain.Nomination{ID: n.GetId(), MemberID: n.GetMemberId(), NominatedAt: n.GetNominatedAt().AsTime().UTC()}
	if outcome != "" && n.GetDecidedAt() != nil {
		d.Outcome, d.DecidedAt = outcome, n.GetDecidedAt().AsTime().UTC()
	}
	return d, nil
}

// NominationSync keeps the nominations' counts current between rebuilds:
// each run reads every nomination of each community again and records
// what changed, keyed by nomination id, so nothing counts twice.
type NominationSync struct {
	store       *store.Store
	gate        *events.Gate
	source      NominationSource
	communities []string
	logger      *slog.Logger
}

// NewNominationSync syncs the communities' nominations from source into
// s, through gate like the projection.
func NewNominationSync(s *store.Store, gate *events.Gate, source NominationSource, communities []string, logger *slog.Logger) *NominationSync {
	return &NominationSync{store: s, gate: gate, source: source, communities: communities, logger: logger}
}

// Run syncs every community, logging failures; the next run tries again.
func (n *NominationSync) Run(ctx context.Context) {
	for _, c := range n.communities {
		if err := n.Sync(ctx, c); err != nil && ctx.Err() == nil && n.logger != nil {
			n.logger.WarnContext(ctx, "reading the ambassador nominations failed", "community", c, "error", err)
		}
	}
}

// Sync reads community's nominations and records them in one
// transaction.
func (n *NominationSync) Sync(ctx context.Context, community string) error {
	var all []domain.Nomination
	if err := n.source(ctx, community, func(batch []domain.Nomination) error {
		all = append(all, batch...)
		return nil
	}); err != nil {
		return err
	}
	defer n.gate.Lock(community)()
	return n.store.DB().InTx(ctx, func(tx *sql.Tx) error {
		if err := n.store.LockCommunity(ctx, tx, community, false); err != nil {
			return err
		}
		for _, nom := range all {
			if err := n.store.PutNomination(ctx, tx, community, nom); err != nil {
				return err
			}
		}
		return nil
	})
}
