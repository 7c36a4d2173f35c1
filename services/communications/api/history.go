package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// History serves kinship.insights.v1.HistoryService over the communications
// service's own state: the facts the insights service rebuilds its
// numbers from (see docs/insights.md). Workloads and platform admins only.
type History struct {
	store  *store.Store
	logger *slog.Logger
}

var _ insightsv1connect.HistoryServiceHandler = (*History)(nil)

// NewHistory serves the history of st.
func NewHistory(st *store.Store, logger *slog.Logger) *History {
	return &History{store: st, logger: logger}
}

// ReadHistory streams the community's facts.
func (h *History) ReadHistory(ctx context.Context, req *connect.Request[insightsv1.ReadHistoryRequest], stream *connect.ServerStream[insightsv1.ReadHistoryResponse]) error {
	community, err := auth.Confine(ctx, req.Msg.GetCommunity())
	if err != nil {
		return err
	}
	if _, ferr := validate.Community(community); ferr != nil {
		return rpc.InvalidArgument(ferr)
	}
	err = h.store.History(ctx, community, func(records []*insightsv1.HistoryRecord) error {
		return stream.Send(&insightsv1.ReadHistoryResponse{Records: records})
	})
	if err != nil {
		return rpc.ToConnect(ctx, h.logger, req.Spec().Procedure, err)
	}
	return nil
}
