package service

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
)

// MembersKeys verifies API keys through the members service at
// membersURL, calling it with the workload's credentials.
func MembersKeys(name, membersURL string, credentials auth.TokenSource, tp trace.TracerProvider) (auth.APIKeyVerifier, error) {
	if credentials == nil {
		return nil, fmt.Errorf("%s: %w", name, errNoCredentials)
	}
	access := membersv1connect.NewAccessServiceClient(rpc.HTTPClient(10*time.Second), membersURL,
		rpc.ClientOptions(tp, auth.NewClientInterceptor(credentials))...)
	return auth.NewRemoteKeys(access), nil
}

// Tokens verifies bearer tokens as cfg says, fetching the issuer's keys
// over HTTP.
func Tokens(name string, cfg auth.TokenConfig) (*auth.TokenVerifier, error) {
	v, err := auth.NewTokenVerifier(cfg, rpc.HTTPClient(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}
