package workflows

import (
	"context"
	"errors"
	"log/slog"

	"go.temporal.io/sdk/temporal"

	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// expectedRetries logs the Temporal SDK's records about an expected retry
// (an activity error of type activityerr.ExpectedRetry, such as a message
// to a member the communications service has not seen yet) as warnings:
// the SDK logs every failed activity attempt as an error, and these are
// part of normal operation, retried until the other service catches up.
type expectedRetries struct{ slog.Handler }

func (h expectedRetries) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && carriesExpectedRetry(r) {
		quiet := slog.NewRecord(r.Time, slog.LevelWarn, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool { quiet.AddAttrs(a); return true })
		r = quiet
	}
	return h.Handler.Handle(ctx, r)
}

func (h expectedRetries) WithAttrs(attrs []slog.Attr) slog.Handler {
	return expectedRetries{h.Handler.WithAttrs(attrs)}
}

func (h expectedRetries) WithGroup(name string) slog.Handler {
	return expectedRetries{h.Handler.WithGroup(name)}
}

func carriesExpectedRetry(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			var app *temporal.ApplicationError
			if errors.As(err, &app) && app.Type() == activityerr.ExpectedRetry {
				found = true
				return false
			}
		}
		return true
	})
	return found
}
