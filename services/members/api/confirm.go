package api

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/store"
)

// ConfirmEmail records that the holder of an address followed the
// confirmation link the communications service sent to it (which checked
// the link's signature before calling, as a workload). For a join the
// address becomes verified and the consent the join asked for takes
// effect (ConsentChanged, source "double-opt-in"); for a change the
// profile takes the new address (ProfileUpdated). EmailConfirmed is
// published in both cases, audited, in one transaction. Confirming again
// returns the member and publishes nothing; a link for an address the
// member neither holds unconfirmed nor asked for is FAILED_PRECONDITION.
func (h *Handler) ConfirmEmail(ctx context.Context, req *connect.Request[membersv1.ConfirmEmailRequest]) (*connect.Response[membersv1.ConfirmEmailResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	var errs validate.Errors
	if req.Msg.GetMemberId() == "" {
		errs = append(errs, validate.Field("member_id", "is required"))
	}
	email, ferr := validate.Email("email", req.Msg.GetEmail())
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	at := h.now()
	c, err := h.store.ConfirmEmail(ctx, community, req.Msg.GetMemberId(), email, at, h.audit, func(c store.Confirmation) ([]kafka.Event, error) {
		return h.confirmationEvents(c, email, at)
	})
	switch {
	case errors.Is(err, domain.ErrStaleConfirmation):
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, domain.ErrEmailTaken):
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("another member of the community holds this address now"))
	case err != nil:
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if c.Reason != "" {
		h.logger.InfoContext(ctx, "address confirmed", "community", community, "member_id", c.After.ID, "reason", c.Reason,
			"consent_took_effect", c.Consent != nil)
	}
	return connect.NewResponse(&membersv1.ConfirmEmailResponse{Member: toProto(c.After)}), nil
}

// confirmationEvents are the events of a confirmation: the consent the
// join asked for, the new address of a change, and EmailConfirmed.
func (h *Handler) confirmationEvents(c store.Confirmation, email string, at time.Time) ([]kafka.Event, error) {
	var evs []kafka.Event
	if c.Consent != nil {
		e, err := h.events.ConsentChanged(c.After.Community, *c.Consent)
		if err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	if c.Reason == domain.ConfirmEmailChange {
		e, err := h.events.ProfileUpdated(c.After, []string{"email"})
		if err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	e, err := h.events.EmailConfirmed(c.After, email, c.Reason, at)
	if err != nil {
		return nil, err
	}
	return append(evs, e), nil
}
