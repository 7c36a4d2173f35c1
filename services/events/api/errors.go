package api

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/events/domain"
)

// toConnect maps an error to the Connect code a caller can act on.
func toConnect(ctx context.Context, logger *slog.Logger, spec connect.Spec, err error) error {
	switch {
	case errors.Is(err, domain.ErrUnknownCommunity):
		return rpc.InvalidArgument(validate.Field("community", "is not a community served here"))
	case errors.Is(err, domain.ErrEventNotFound), errors.Is(err, domain.ErrOccurrenceNotFound), errors.Is(err, domain.ErrRSVPNotFound),
		errors.Is(err, domain.ErrCodeNotFound), errors.Is(err, domain.ErrFeedTokenNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, domain.ErrBadTransition), errors.Is(err, domain.ErrNotPublished), errors.Is(err, domain.ErrEventCancelled),
		errors.Is(err, domain.ErrOccurrenceCancelled), errors.Is(err, domain.ErrOccurrenceEnded), errors.Is(err, domain.ErrOccurrenceNotEnded),
		errors.Is(err, domain.ErrNoOffer), errors.Is(err, domain.ErrOfferExpired), errors.Is(err, domain.ErrNoSeat),
		errors.Is(err, domain.ErrCheckInClosed), errors.Is(err, domain.ErrNotAttended), errors.Is(err, domain.ErrNotRecurring),
		errors.Is(err, domain.ErrStillRunning), errors.Is(err, domain.ErrCapacityBelowSeats), errors.Is(err, domain.ErrSeriesStarted):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, domain.ErrNotHost):
		return connect.NewError(connect.CodePermissionDenied, err)
	}
	return rpc.ToConnect(ctx, logger, spec.Procedure, err)
}
