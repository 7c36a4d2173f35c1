//go:build nodev

package main

import (
	"context"
	"io"
	"log/slog"
)

// The chaos harness's infrastructure commands embed the development broker
// and Temporal server, which the production image leaves out.

func runBroker(context.Context, []string, envFunc, io.Writer) error { return errNoDev }

func runTemporalServer(context.Context, []string, envFunc, *slog.Logger, io.Writer) error {
	return errNoDev
}
