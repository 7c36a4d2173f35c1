package service

import (
	"context"
	"time"
)

// every calls fn every interval until ctx ends, and once at the start
// when atStart is set. fn logs its own failures: the next tick tries
// again.
func every(ctx context.Context, interval time.Duration, atStart bool, fn func(context.Context)) {
	if atStart {
		fn(ctx)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			fn(ctx)
		}
	}
}
