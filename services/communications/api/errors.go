package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// toConnect maps an error to the Connect code a caller can act on.
func (h *Handler) toConnect(ctx context.Context, spec connect.Spec, err error) error {
	switch {
	case validate.IsInvalid(err):
		return rpc.InvalidArgument(err)
	case errors.Is(err, domain.ErrUnknownCommunity):
		return rpc.InvalidArgument(validate.Field("community", "is not a community served here"))
	case errors.Is(err, domain.ErrKeyReused):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, domain.ErrInProgress):
		return connect.NewError(connect.CodeAborted, err)
	case errors.Is(err, errMailUnavailable):
		return connect.NewError(connect.CodeUnavailable, errMailUnavailable)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	return rpc.Internal(ctx, h.logger, spec.Procedure, err)
}
