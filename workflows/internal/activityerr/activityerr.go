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

// SettleAttempts is how many attempts a NotFound is retried when it may
// only mean that the called service's copy of the members (the
// communications recipients projection) has not yet caught up with the
// event that started the work. With the workflows' backoff (1 s doubling)
// that is about four minutes.
const SettleAttempts = 8

// Settling reports whether err, returned on attempt (activity.GetInfo's
// Attempt, from 1), is a NotFound to retry rather than take as final: the
// member exists — the workflow just read them from the members service —
// but the called service may not have seen them yet.
func Settling(err error, attempt int32) bool {
	return connect.CodeOf(err) == connect.CodeNotFound && attempt < SettleAttempts
}

// ExpectedRetry is the type of the errors WaitFor returns: an attempt that
// failed only because another service has not caught up yet, retried as
// usual and logged as a warning, not an error.
const ExpectedRetry = "ExpectedRetry"

// WaitFor marks err as an expected retry (see ExpectedRetry), with msg
// saying what is awaited; Temporal retries it as any retryable error.
func WaitFor(msg string, err error) error {
	return temporal.NewApplicationErrorWithCause(msg+": "+err.Error(), ExpectedRetry, err)
}

// Is reports whether err is (or wraps) an application error of type typ.
func Is(err error, typ string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == typ
}
