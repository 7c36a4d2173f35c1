package activityerr

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/temporal"
)

// A NotFound from a lagging projection is retried for SettleWindow after
// the activity was first scheduled, however many attempts that takes,
// then is final.
func TestANotFoundSettlesForItsWindowThenIsFinal(t *testing.T) {
	notFound := fmt.Errorf("send: %w", connect.NewError(connect.CodeNotFound, errors.New("member_id: no member of the community has this id")))
	first := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, after := range []time.Duration{0, time.Second, 2 * time.Minute, 10 * time.Minute, SettleWindow - time.Second} {
		if !Settling(notFound, first, first.Add(after)) {
			t.Errorf("%v after the first attempt: a NotFound from a lagging projection was taken as final", after)
		}
	}
	if Settling(notFound, first, first.Add(SettleWindow)) {
		t.Error("a NotFound is still retried after the settling window")
	}
	if !Is(Classify(notFound), NotFound) {
		t.Error("once settled, a NotFound is not classified as final")
	}
	for _, err := range []error{nil, errors.New("boom"), connect.NewError(connect.CodeInvalidArgument, errors.New("x")), connect.NewError(connect.CodeUnavailable, errors.New("x"))} {
		if Settling(err, first, first) {
			t.Errorf("%v is not a NotFound but settles", err)
		}
	}
}

// Settling attempts come back within seconds, not after the workflows'
// backoff of up to five minutes.
func TestSettlingAttemptsAreRetriedSoon(t *testing.T) {
	want := map[int32]time.Duration{1: 250 * time.Millisecond, 2: 500 * time.Millisecond, 3: time.Second, 4: 2 * time.Second,
		6: 8 * time.Second, 7: 10 * time.Second, 100: 10 * time.Second}
	for attempt, d := range want {
		if got := SettleDelay(attempt); got != d {
			t.Errorf("SettleDelay(%d) = %v, want %v", attempt, got, d)
		}
	}
	err := WaitFor("send welcome", connect.NewError(connect.CodeNotFound, errors.New("x")), 3)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ExpectedRetry || app.NonRetryable() || app.NextRetryDelay() != time.Second {
		t.Errorf("WaitFor = %#v, want a retryable %s error retried after 1 s", err, ExpectedRetry)
	}
}
