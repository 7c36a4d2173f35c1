// Package activityerr turns the errors of Kinship's Connect APIs into
// Temporal activity errors: what retrying cannot fix becomes a
// non-retryable application error with a type a workflow can match.
package activityerr

import (
	"errors"
	"time"

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

// SettleWindow is how long after an activity was first scheduled a
// NotFound is retried when it may only mean that the called service's copy
// of the members (the communications recipients projection) has not yet
// caught up with the event that started the work. It is a time, not a
// number of attempts: a projection held up by a broker or database outage
// catches up minutes later, and a journey must not take its member for
// gone meanwhile (the chaos harness saw welcomes lost that way after
// eight attempts, two minutes). Past the window, NotFound is final.
const SettleWindow = 30 * time.Minute

// settleDelayMax bounds the wait between settling attempts, so the work
// goes on within seconds of the projection catching up instead of after
// the workflows' usual backoff (up to 5 minutes).
const settleDelayMax = 10 * time.Second

// Settling reports whether err is a NotFound to retry rather than take as
// final: the member exists — the workflow just read them from the members
// service — and the activity was first scheduled (activity.GetInfo's
// ScheduledTime) less than SettleWindow before now.
func Settling(err error, firstScheduled, now time.Time) bool {
	return connect.CodeOf(err) == connect.CodeNotFound && now.Sub(firstScheduled) < SettleWindow
}

// SettleDelay is the wait before the attempt after attempt (from 1): 250
// ms doubling, at most 10 s. The projection is usually a moment behind
// the journey's start, so the first retries come soon.
func SettleDelay(attempt int32) time.Duration {
	d := 250 * time.Millisecond
	for i := int32(1); i < attempt && d < settleDelayMax; i++ {
		d *= 2
	}
	return min(d, settleDelayMax)
}

// ExpectedRetry is the type of the errors WaitFor returns: an attempt that
// failed only because another service has not caught up yet, retried as
// usual and logged as a warning, not an error.
const ExpectedRetry = "ExpectedRetry"

// WaitFor marks err as an expected retry (see ExpectedRetry), with msg
// saying what is awaited; Temporal retries it after SettleDelay(attempt)
// rather than the activity's own backoff.
func WaitFor(msg string, err error, attempt int32) error {
	return temporal.NewApplicationErrorWithOptions(msg+": "+err.Error(), ExpectedRetry,
		temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: SettleDelay(attempt)})
}

// Is reports whether err is (or wraps) an application error of type typ.
func Is(err error, typ string) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == typ
}
