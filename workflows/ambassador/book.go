package ambassador

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Book keeps ambassadors' buddies in their programme workflows: an
// ambassador takes a member when their workflow accepts the reservation.
// Ambassadors outside the programme (a role given by hand) take none.
type Book struct {
	// Temporal is the client of the community's namespace.
	Temporal client.Client
}

// Reserve asks ambassadorID to buddy memberID; asking again answers true.
func (b Book) Reserve(ctx context.Context, community, ambassadorID, memberID string) (bool, error) {
	handle, err := b.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: WorkflowID(community, ambassadorID), UpdateName: UpdateReserveBuddy,
		UpdateID: "reserve-buddy/" + memberID, Args: []any{BuddyRequest{MemberID: memberID}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		var ok bool
		err = handle.Get(ctx, &ok)
		if err == nil {
			return ok, nil
		}
	}
	var notFound *serviceerror.NotFound
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &notFound):
		return false, nil // no programme workflow, or it ended
	case errors.As(err, &appErr) && appErr.Type() == ErrTypeNoRoom:
		return false, nil
	}
	return false, fmt.Errorf("reserve buddy place: %w", err)
}

// Release frees memberID's place with ambassadorID.
func (b Book) Release(ctx context.Context, community, ambassadorID, memberID string) error {
	err := b.Temporal.SignalWorkflow(ctx, WorkflowID(community, ambassadorID), "", SignalReleaseBuddy, BuddyRequest{MemberID: memberID})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil
	}
	return err
}
