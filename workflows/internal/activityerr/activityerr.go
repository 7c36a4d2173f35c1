// Package activityerr turns the errors of Kinship's Connect APIs into
// Temporal activity errors: what retrying cannot fix becomes a
// non-retryable application error with a type a workflow can match.
package activityerr

import (
	"errors"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/temporal"
)

// Types of the non-retryable errors Classify returns.
const (
	// NotFound: the thing the call is about does not exist (any more).
	NotFound = "NotFound"
	// InvalidRequest: the request was refused as malformed or not
	// applicable in the current state.
	InvalidRequest = "InvalidRequest"
	// PermissionDenied: the worker's credentials do not allow the call.
	PermissionDenied = "PermissionDenied"
)

// NonRetryable lists every type Classify may return, for a RetryPolicy.
func NonRetryable() []string { return []string{NotFound, InvalidRequest, PermissionDenied} }

// Classify marks errors that retrying cannot fix as non-retryable, keeping
// err as the cause; others (unavailable, deadline exceeded, internal) are
// returned as they are, for Temporal to retry.
func Classify(err error) error {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return err
	}
	switch cerr.Code() {
	case connect.CodeNotFound:
		return temporal.NewNonRetryableApplicationError(err.Error(), NotFound, err)
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeAlreadyExists, connect.CodeOutOfRange:
		return temporal.NewNonRetryableApplicationError(err.Error(), InvalidRequest, err)
	case connect.CodePermissionDenied, connect.CodeUnauthenticated:
		return temporal.NewNonRetryableApplicationError(err.Error(), PermissionDenied, err)
	}
	return err
}

// Is reports whether err is (or wraps) an application error of type typ.
func Is(err error, typ string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == typ
}
