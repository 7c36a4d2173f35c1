package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/kinshiphq/kinship/internal/validate"
)

func TestToConnect(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	invalid := fmt.Errorf("join: %w", validate.Errors{validate.Field("email", "is required"), validate.Field("display_name", "is required")})
	tests := []struct {
		name string
		err  error
		code connect.Code
	}{
		{"field errors", invalid, connect.CodeInvalidArgument},
		{"caller went away", fmt.Errorf("insert: %w", context.Canceled), connect.CodeCanceled},
		{"deadline", context.DeadlineExceeded, connect.CodeDeadlineExceeded},
		{"already coded", connect.NewError(connect.CodeNotFound, errors.New("gone")), connect.CodeNotFound},
		{"anything else", errors.New("pq: password authentication failed for user kinship"), connect.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := connect.CodeOf(ToConnect(context.Background(), logger, "/p", tt.err)); got != tt.code {
				t.Errorf("code = %v, want %v", got, tt.code)
			}
		})
	}
	if fields := FieldViolations(ToConnect(context.Background(), logger, "/p", invalid)); !slices.Equal(fields, []string{"email", "display_name"}) {
		t.Errorf("field violations = %v", fields)
	}
	internal := ToConnect(context.Background(), logger, "/p", errors.New("pq: password authentication failed"))
	if strings.Contains(internal.Error(), "password") {
		t.Errorf("internal error leaks its cause to the caller: %v", internal)
	}
	if !strings.Contains(logs.String(), "password authentication failed") {
		t.Error("internal error cause not logged")
	}
}
