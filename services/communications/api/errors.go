package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// toConnect maps an error to the Connect code a caller can act on.
func (h *Handler) toConnect(ctx context.Context, spec connect.Spec, err error) error {
	switch {
	case errors.Is(err, domain.ErrUnknownCommunity):
		return rpc.InvalidArgument(validate.Field("community", "is not a community served here"))
	case errors.Is(err, domain.ErrKeyReused):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, domain.ErrInProgress):
		// An expected retry: another request is delivering this key.
		h.logger.InfoContext(ctx, "delivery already in progress; caller told to retry", "procedure", spec.Procedure)
		return connect.NewError(connect.CodeAborted, err)
	case errors.Is(err, errMailUnavailable):
		return connect.NewError(connect.CodeUnavailable, errMailUnavailable)
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrTemplateNotFound), errors.Is(err, domain.ErrAnnouncementNotFound),
		errors.Is(err, domain.ErrWebhookNotFound), errors.Is(err, domain.ErrNoSuchMember), errors.Is(err, store.ErrNoRecipient):
		return connect.NewError(connect.CodeNotFound, err)
	}
	return rpc.ToConnect(ctx, h.logger, spec.Procedure, err)
}
