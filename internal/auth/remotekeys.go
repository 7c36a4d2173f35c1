package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// RemoteKeys verifies API keys with the members service, which owns them,
// and remembers answers briefly: a revoked key stops working everywhere
// within CacheFor.
type RemoteKeys struct {
	client   membersv1connect.AccessServiceClient
	cacheFor time.Duration

	mu      sync.Mutex
	answers map[[32]byte]remoteAnswer
}

type remoteAnswer struct {
	principal Principal
	known     bool
	at        time.Time
}

// CacheFor is how long RemoteKeys trusts an answer.
const CacheFor = 30 * time.Second

// NewRemoteKeys verifies keys through client, which must carry the
// workload's credentials.
func NewRemoteKeys(client membersv1connect.AccessServiceClient) *RemoteKeys {
	return &RemoteKeys{client: client, cacheFor: CacheFor, answers: map[[32]byte]remoteAnswer{}}
}

// VerifyAPIKey resolves plain.
func (r *RemoteKeys) VerifyAPIKey(ctx context.Context, plain string) (Principal, error) {
	if _, err := ParseAPIKey(plain); err != nil {
		return Principal{}, ErrUnknownKey
	}
	key := sha256.Sum256([]byte(plain))
	now := time.Now()
	r.mu.Lock()
	a, ok := r.answers[key]
	if len(r.answers) > 10_000 {
		r.answers = map[[32]byte]remoteAnswer{} // bound memory; answers are cheap to get again
	}
	r.mu.Unlock()
	if ok && now.Sub(a.at) < r.cacheFor {
		if !a.known {
			return Principal{}, ErrUnknownKey
		}
		return a.principal, nil
	}
	res, err := r.client.VerifyAPIKey(ctx, connect.NewRequest(&membersv1.VerifyAPIKeyRequest{Key: plain}))
	switch {
	case connect.CodeOf(err) == connect.CodeUnauthenticated || connect.CodeOf(err) == connect.CodeNotFound:
		r.remember(key, remoteAnswer{at: now})
		return Principal{}, ErrUnknownKey
	case err != nil:
		return Principal{}, connect.NewError(connect.CodeUnavailable, errors.Join(errors.New("verify api key with the members service"), err))
	}
	p := Principal{Kind: KindAPIKey, Subject: res.Msg.GetKeyId(), Community: res.Msg.GetCommunity()}
	for _, role := range res.Msg.GetRoles() {
		p.Roles = append(p.Roles, Role(role))
	}
	r.remember(key, remoteAnswer{principal: p, known: true, at: now})
	return p, nil
}

func (r *RemoteKeys) remember(key [32]byte, a remoteAnswer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[key] = a
}
