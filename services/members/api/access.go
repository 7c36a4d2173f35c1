package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/rpc"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/store"
)

// KeyStore is what the access API needs from the members store.
type KeyStore interface {
	CreateAPIKey(ctx context.Context, k domain.APIKey, audit store.Auditor) error
	RevokeAPIKey(ctx context.Context, community, id string, audit store.Auditor) (domain.APIKey, error)
	ListAPIKeys(ctx context.Context, community string) ([]domain.APIKey, error)
	VerifyAPIKey(ctx context.Context, plain string, audit store.Auditor) (auth.Principal, error)
}

// Keys verifies the API keys presented to the members service itself,
// recording their use in log.
func Keys(keys KeyStore, log *audit.Log) auth.APIKeyVerifier {
	return keyVerifier{keys: keys, log: log}
}

type keyVerifier struct {
	keys KeyStore
	log  *audit.Log
}

func (v keyVerifier) VerifyAPIKey(ctx context.Context, plain string) (auth.Principal, error) {
	return v.keys.VerifyAPIKey(ctx, plain, v.log)
}

// Access implements AccessService.
type Access struct {
	keys   KeyStore
	audit  *audit.Log
	errs   *Handler
	logger *slog.Logger
}

var _ membersv1connect.AccessServiceHandler = (*Access)(nil)

// NewAccess returns the access API.
func NewAccess(keys KeyStore, log *audit.Log, logger *slog.Logger) *Access {
	return &Access{keys: keys, audit: log, errs: &Handler{logger: logger}, logger: logger}
}

// CreateAPIKey makes a key and returns its secret once.
func (a *Access) CreateAPIKey(ctx context.Context, req *connect.Request[membersv1.CreateAPIKeyRequest]) (*connect.Response[membersv1.CreateAPIKeyResponse], error) {
	caller, _ := auth.FromContext(ctx)
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	secret, err := auth.NewAPIKey()
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	k, err := domain.NewAPIKey(community, req.Msg.GetName(), req.Msg.GetRoles(), newID(), secret, caller.Subject, time.Now())
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	if err := a.keys.CreateAPIKey(ctx, k, a.audit); err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	a.logger.InfoContext(ctx, "api key created", "community", community, "api_key_id", k.ID)
	return connect.NewResponse(&membersv1.CreateAPIKeyResponse{Key: keyToProto(k), Secret: secret.Plain}), nil
}

// ListAPIKeys lists a community's keys.
func (a *Access) ListAPIKeys(ctx context.Context, req *connect.Request[membersv1.ListAPIKeysRequest]) (*connect.Response[membersv1.ListAPIKeysResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	keys, err := a.keys.ListAPIKeys(ctx, community)
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListAPIKeysResponse{}
	for _, k := range keys {
		res.Keys = append(res.Keys, keyToProto(k))
	}
	return connect.NewResponse(res), nil
}

// RevokeAPIKey revokes a key.
func (a *Access) RevokeAPIKey(ctx context.Context, req *connect.Request[membersv1.RevokeAPIKeyRequest]) (*connect.Response[membersv1.RevokeAPIKeyResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	if _, err := uuid.Parse(req.Msg.GetId()); err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), fieldInvalid("id", "is not a key id"))
	}
	k, err := a.keys.RevokeAPIKey(ctx, community, req.Msg.GetId(), a.audit)
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	a.logger.InfoContext(ctx, "api key revoked", "community", community, "api_key_id", k.ID)
	return connect.NewResponse(&membersv1.RevokeAPIKeyResponse{Key: keyToProto(k)}), nil
}

// VerifyAPIKey resolves a key for another service.
func (a *Access) VerifyAPIKey(ctx context.Context, req *connect.Request[membersv1.VerifyAPIKeyRequest]) (*connect.Response[membersv1.VerifyAPIKeyResponse], error) {
	p, err := a.keys.VerifyAPIKey(ctx, req.Msg.GetKey(), a.audit)
	if errors.Is(err, auth.ErrUnknownKey) {
		return nil, connect.NewError(connect.CodeNotFound, err)
	}
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.VerifyAPIKeyResponse{KeyId: p.Subject, Community: p.Community}
	for _, r := range p.Roles {
		res.Roles = append(res.Roles, string(r))
	}
	return connect.NewResponse(res), nil
}

// ListAuditEntries pages through the members service's audit log, newest
// first. It is kept for existing clients: kinship.audit.v1.AuditService,
// which every service serves over its own log (and `kinship audit` merges),
// is the one audit API, with time windows.
func (a *Access) ListAuditEntries(ctx context.Context, req *connect.Request[membersv1.ListAuditEntriesRequest]) (*connect.Response[membersv1.ListAuditEntriesResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	before, err := rpc.DecodePageToken(community, req.Msg.GetPageToken())
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	entries, err := a.audit.List(ctx, community, before, size+1)
	if err != nil {
		return nil, a.errs.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListAuditEntriesResponse{}
	if len(entries) > size {
		entries = entries[:size]
		res.NextPageToken = rpc.EncodePageToken(community, entries[size-1].ID)
	}
	for _, e := range entries {
		res.Entries = append(res.Entries, auditToProto(e))
	}
	return connect.NewResponse(res), nil
}
