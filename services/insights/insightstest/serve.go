// Package insightstest serves simulated histories (package demo) to the
// insights service's tests.
package insightstest

import (
	"context"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
)

// Histories serves each service's history of a community over HTTP.
type Histories struct {
	insightsv1connect.UnimplementedHistoryServiceHandler
	Records []*insightsv1.HistoryRecord
	// Batch is how many records each message carries; 0 means 1000.
	Batch int
}

// ReadHistory streams the records.
func (h *Histories) ReadHistory(_ context.Context, _ *connect.Request[insightsv1.ReadHistoryRequest], stream *connect.ServerStream[insightsv1.ReadHistoryResponse]) error {
	size := h.Batch
	if size == 0 {
		size = 1000
	}
	for i := 0; i < len(h.Records); i += size {
		if err := stream.Send(&insightsv1.ReadHistoryResponse{Records: h.Records[i:min(i+size, len(h.Records))]}); err != nil {
			return err
		}
	}
	return nil
}

// Serve serves history (by service name) until t ends and returns each
// service's URL.
func Serve(t testing.TB, history map[string][]*insightsv1.HistoryRecord) map[string]string {
	t.Helper()
	urls := map[string]string{}
	for _, name := range []string{"members", "events", "communications", "partners"} {
		_, h := insightsv1connect.NewHistoryServiceHandler(&Histories{Records: history[name]})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	return urls
}
