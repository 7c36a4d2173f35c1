// Package flow holds what Kinship's journeys share: durations written as
// text in journey definitions, and a timed wait that leaves no timer
// behind.
package flow

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Duration is a time.Duration written as "48h" in JSON.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string such as "120h".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"48h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Std is d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// AwaitOrTimer waits until cond holds or d passes, and cancels its timer
// when cond came first, so no stale timer wakes the workflow later. A
// cancelled ctx returns the cancellation.
func AwaitOrTimer(ctx workflow.Context, d time.Duration, cond func() bool) error {
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(timerCtx, d)
	if err := workflow.Await(ctx, func() bool { return timer.IsReady() || cond() }); err != nil {
		return err
	}
	if timer.IsReady() {
		// A cancelled workflow cancels the timer too: report that, rather
		// than the time passing.
		return timer.Get(ctx, nil)
	}
	return nil
}

// AwaitUntil waits until cond holds or deadline passes, and reports
// whether the deadline passed first.
func AwaitUntil(ctx workflow.Context, deadline time.Time, cond func() bool) (timedOut bool, err error) {
	for !cond() {
		now := workflow.Now(ctx)
		if !now.Before(deadline) {
			return true, nil
		}
		if err := AwaitOrTimer(ctx, deadline.Sub(now), cond); err != nil {
			return false, err
		}
	}
	return false, nil
}
