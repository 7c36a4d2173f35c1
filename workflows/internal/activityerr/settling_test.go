package activityerr

import (
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"
)

func TestANotFoundSettlesForAFewAttemptsThenIsFinal(t *testing.T) {
	notFound := fmt.Errorf("send: %w", connect.NewError(connect.CodeNotFound, errors.New("member_id: no member of the community has this id")))
	for attempt := int32(1); attempt < SettleAttempts; attempt++ {
		if !Settling(notFound, attempt) {
			t.Fatalf("attempt %d: a NotFound from a lagging projection was taken as final", attempt)
		}
	}
	if Settling(notFound, SettleAttempts) {
		t.Error("a NotFound is still retried after the settling attempts")
	}
	if !Is(Classify(notFound), NotFound) {
		t.Error("once settled, a NotFound is not classified as final")
	}
	for _, err := range []error{nil, errors.New("boom"), connect.NewError(connect.CodeInvalidArgument, errors.New("x")), connect.NewError(connect.CodeUnavailable, errors.New("x"))} {
		if Settling(err, 1) {
			t.Errorf("%v is not a NotFound but settles", err)
		}
	}
}
