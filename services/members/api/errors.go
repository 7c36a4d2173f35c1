package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// toConnect maps an error to the Connect code a caller can act on.
func (h *Handler) toConnect(ctx context.Context, spec connect.Spec, err error) error {
	switch {
	case errors.Is(err, domain.ErrUnknownCommunity):
		return rpc.InvalidArgument(validate.Field("community", "is not a community served here"))
	case errors.Is(err, domain.ErrEmailTaken):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrKeyNotFound), errors.Is(err, domain.ErrSegmentNotFound),
		errors.Is(err, domain.ErrRoleNotHeld):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, domain.ErrUnknownReferrer):
		return rpc.InvalidArgument(validate.Field("source.referrer_id", "is not a member of the community"))
	case errors.Is(err, domain.ErrBadTransition), errors.Is(err, domain.ErrErased):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, domain.ErrSegmentNameTaken):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, errTooManyRows), errors.Is(err, errImportTooLarge):
		return rpc.InvalidArgument(validate.Field("chunk", "%s; nothing was imported", err.Error()))
	}
	return rpc.ToConnect(ctx, h.logger, spec.Procedure, err)
}

func fieldRequired(field string) error { return validate.Field(field, "is required") }

func fieldInvalid(field, reason string) error { return validate.Field(field, "%s", reason) }

func communityOf(raw string) (string, error) {
	c, ferr := validate.Community(raw)
	if ferr != nil {
		return "", ferr
	}
	return c, nil
}
