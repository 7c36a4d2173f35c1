package api

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/services/communications/domain"
)

// levelLog keeps the level of every record.
type levelLog struct {
	mu     sync.Mutex
	levels []slog.Level
}

func (l *levelLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *levelLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.levels = append(l.levels, r.Level)
	return nil
}
func (l *levelLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levelLog) WithGroup(string) slog.Handler      { return l }

// A delivery already in progress is an expected retry: the caller gets
// Aborted and the log an INFO line, not an ERROR.
func TestExpectedRetriesAreNotErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		code  connect.Code
		level slog.Level
	}{
		{"a delivery in progress", domain.ErrInProgress, connect.CodeAborted, slog.LevelInfo},
		{"an unexpected failure", errors.New("disk on fire"), connect.CodeInternal, slog.LevelError},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs := &levelLog{}
			h := &Handler{logger: slog.New(logs)}
			err := h.toConnect(context.Background(), connect.Spec{Procedure: "/kinship.communications.v1.CommunicationsService/SendMessage"}, c.err)
			if connect.CodeOf(err) != c.code {
				t.Errorf("code = %v, want %v", connect.CodeOf(err), c.code)
			}
			if len(logs.levels) != 1 || logs.levels[0] != c.level {
				t.Errorf("logged at %v, want once at %v", logs.levels, c.level)
			}
		})
	}
}
