package auth

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

type fakeAccess struct {
	membersv1connect.AccessServiceClient
	calls   int
	revoked bool
	down    bool
}

func (f *fakeAccess) VerifyAPIKey(_ context.Context, req *connect.Request[membersv1.VerifyAPIKeyRequest]) (*connect.Response[membersv1.VerifyAPIKeyResponse], error) {
	f.calls++
	switch {
	case f.down:
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("dial tcp: connection refused"))
	case f.revoked:
		return nil, connect.NewError(connect.CodeNotFound, ErrUnknownKey)
	}
	return connect.NewResponse(&membersv1.VerifyAPIKeyResponse{KeyId: "k1", Community: "demo", Roles: []string{"staff"}}), nil
}

func TestRemoteKeysCacheAnswersBriefly(t *testing.T) {
	key, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	members := &fakeAccess{}
	r := NewRemoteKeys(members)
	ctx := context.Background()
	for range 3 {
		p, err := r.VerifyAPIKey(ctx, key.Plain)
		if err != nil || p.Kind != KindAPIKey || p.Community != "demo" || !p.Has(Staff) {
			t.Fatalf("VerifyAPIKey = %+v, %v", p, err)
		}
	}
	if members.calls != 1 {
		t.Errorf("members asked %d times, want once while the answer is fresh", members.calls)
	}

	members.revoked = true
	r.cacheFor = 0 // the cached answer has aged
	if _, err := r.VerifyAPIKey(ctx, key.Plain); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("revoked key = %v, want ErrUnknownKey", err)
	}
	members.down = true
	if _, err := r.VerifyAPIKey(ctx, key.Plain); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("members down = %v, want Unavailable", err)
	}
	calls := members.calls
	if _, err := r.VerifyAPIKey(ctx, "kinship_not_a_key"); !errors.Is(err, ErrUnknownKey) || members.calls != calls {
		t.Errorf("malformed key = %v after %d calls; want refused without asking", err, members.calls-calls)
	}
}
