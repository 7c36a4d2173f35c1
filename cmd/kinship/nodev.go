//go:build nodev

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// The production image's binary is built with -tags nodev: it leaves out
// `kinship dev` and `kinship bench`, which embed a Temporal server, a Kafka
// broker and a mail sink, so that the image stays small.

var errNoDev = errors.New("this kinship was built without the dev and bench commands (build tag nodev); use a development build: go run ./cmd/kinship")

func runDev(context.Context, []string, envFunc, *slog.Logger, io.Writer) error { return errNoDev }

func runBench(context.Context, []string, *slog.Logger, io.Writer) error { return errNoDev }
