package insightstest

import (
	"context"
	"net/http"

	"connectrpc.com/connect"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
)

// ReadHistoryAs reads demo's history from the HistoryService at url with
// token (none when empty) to the end, and returns "ok" or the Connect
// error code, as authtest.Call does for unary calls: for the services'
// guard tests.
func ReadHistoryAs(url, token string) string {
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(token))))
	}
	stream, err := insightsv1connect.NewHistoryServiceClient(http.DefaultClient, url, opts...).ReadHistory(context.Background(),
		connect.NewRequest(&insightsv1.ReadHistoryRequest{Community: "demo"}))
	if err == nil {
		for stream.Receive() {
		}
		err = stream.Err()
	}
	if err == nil {
		return "ok"
	}
	return connect.CodeOf(err).String()
}
