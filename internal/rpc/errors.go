// Package rpc holds what every Connect API and client of Kinship shares:
// handler and client options, and the mapping of validation and unexpected
// errors to Connect errors. Domain-specific codes are mapped by each api room.
package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/kinshiphq/kinship/internal/validate"
)

// InvalidArgument turns the field errors in err into an InvalidArgument
// error whose message names every field and whose BadRequest detail lists
// them for programs.
func InvalidArgument(err error) *connect.Error {
	fields := validate.FieldErrors(err)
	cerr := connect.NewError(connect.CodeInvalidArgument, err)
	if len(fields) == 0 {
		return cerr
	}
	br := &errdetails.BadRequest{}
	for _, f := range fields {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Reason})
	}
	if detail, derr := connect.NewErrorDetail(br); derr == nil {
		cerr.AddDetail(detail)
	}
	return cerr
}

// ToConnect maps what every API shares — field errors, cancelled and
// expired requests, errors already carrying a code — and answers Internal for
// anything else. Each api room maps its domain errors first and hands the
// rest here.
func ToConnect(ctx context.Context, logger *slog.Logger, procedure string, err error) error {
	var cerr *connect.Error
	switch {
	case validate.IsInvalid(err):
		return InvalidArgument(err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	case errors.As(err, &cerr):
		return cerr
	}
	return Internal(ctx, logger, procedure, err)
}

// Internal logs err with its trace ids and returns an Internal error that
// tells the caller nothing about the cause but the trace id under which
// the server logged it.
func Internal(ctx context.Context, logger *slog.Logger, procedure string, err error) *connect.Error {
	logger.ErrorContext(ctx, "request failed", "procedure", procedure, "error", err)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("internal error; the server log has the cause under trace %s", sc.TraceID()))
	}
	return connect.NewError(connect.CodeInternal, errors.New("internal error; the trace id in the server log has the cause"))
}

// FieldViolations returns the fields named by an InvalidArgument error's
// BadRequest detail.
func FieldViolations(err error) []string {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return nil
	}
	var fields []string
	for _, d := range cerr.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		if br, ok := v.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				fields = append(fields, fv.GetField())
			}
		}
	}
	return fields
}
