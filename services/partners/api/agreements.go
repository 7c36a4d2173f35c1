package api

import (
	"context"

	"github.com/kinshiphq/kinship/internal/rpc"

	"connectrpc.com/connect"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/partners/domain"
	"github.com/kinshiphq/kinship/services/partners/events"
	"github.com/kinshiphq/kinship/services/partners/store"
)

// Agreements implements AgreementsService.
type Agreements struct {
	base
	sweeper *Sweeper
}

var _ partnersv1connect.AgreementsServiceHandler = (*Agreements)(nil)

// NewAgreements returns the agreements API; RunExpirySweep runs sweeper.
func NewAgreements(d Deps, sweeper *Sweeper) *Agreements {
	return &Agreements{base: newBase(d), sweeper: sweeper}
}

func agreementInput(kind partnersv1.AgreementKind, title, start, end string, value *partnersv1.Money, documentURL string) domain.AgreementInput {
	return domain.AgreementInput{Kind: events.AgreementKindFromProto(kind), Title: title, StartDate: start, EndDate: end,
		Value: events.MoneyFromProto(value), DocumentURL: documentURL}
}

// CreateAgreement drafts an agreement.
func (h *Agreements) CreateAgreement(ctx context.Context, req *connect.Request[partnersv1.CreateAgreementRequest]) (*connect.Response[partnersv1.CreateAgreementResponse], error) {
	m := req.Msg
	var errs validate.Errors
	community, err := communityOf(m.GetCommunity())
	errs = append(errs, validate.FieldErrors(err)...)
	a, err := domain.NewAgreement(community, m.GetPartnerId(), agreementInput(m.GetKind(), m.GetTitle(), m.GetStartDate(), m.GetEndDate(), m.GetValue(),
		m.GetDocumentUrl()), newID(), h.now())
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.CreateAgreement(ctx, a); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "agreement drafted", "community", community, "partner_id", a.PartnerID, "agreement_id", a.ID)
	return connect.NewResponse(&partnersv1.CreateAgreementResponse{Agreement: events.AgreementToProto(a)}), nil
}

// GetAgreement returns one agreement and its renewals.
func (h *Agreements) GetAgreement(ctx context.Context, req *connect.Request[partnersv1.GetAgreementRequest]) (*connect.Response[partnersv1.GetAgreementResponse], error) {
	community, id, err := target(req.Msg.GetCommunity(), "id", req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	a, err := h.store.GetAgreement(ctx, community, id)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	renewals, err := h.store.Renewals(ctx, community, id)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.GetAgreementResponse{Agreement: events.AgreementToProto(a)}
	for _, r := range renewals {
		res.Renewals = append(res.Renewals, renewalToProto(r))
	}
	return connect.NewResponse(res), nil
}

// ListAgreements returns one page of agreements.
func (h *Agreements) ListAgreements(ctx context.Context, req *connect.Request[partnersv1.ListAgreementsRequest]) (*connect.Response[partnersv1.ListAgreementsResponse], error) {
	var errs validate.Errors
	community, err := communityOf(req.Msg.GetCommunity())
	errs = append(errs, validate.FieldErrors(err)...)
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	errs = append(errs, validate.FieldErrors(err)...)
	f := store.AgreementFilter{}
	f.PartnerID, err = optionalID("partner_id", req.Msg.GetPartnerId())
	errs = append(errs, validate.FieldErrors(err)...)
	for _, s := range req.Msg.GetStatuses() {
		st, ok := events.AgreementStatusFromProto(s)
		if !ok {
			errs = append(errs, validate.Field("statuses", "must hold only draft, signed, active, expired or terminated"))
			break
		}
		f.Statuses = append(f.Statuses, st)
	}
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	after, err := rpc.DecodePageToken(community, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	list, err := h.store.ListAgreements(ctx, community, f, after, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.ListAgreementsResponse{}
	if len(list) > size {
		list = list[:size]
		res.NextPageToken = rpc.EncodePageToken(community, list[size-1].ID)
	}
	for _, a := range list {
		res.Agreements = append(res.Agreements, events.AgreementToProto(a))
	}
	return connect.NewResponse(res), nil
}

// optionalID checks an optional id filter.
func optionalID(field, raw string) (string, error) {
	v, ferr := domain.ValidateID(field, raw, false)
	if ferr != nil {
		return "", ferr
	}
	return v, nil
}

// change applies fn to agreement id of the request's community and
// answers with the agreement it leaves.
func (h *Agreements) change(ctx context.Context, rawCommunity, id string, fn func(domain.Agreement) (store.AgreementChange, error)) (domain.Agreement, error) {
	community, id, err := target(rawCommunity, "id", id)
	if err != nil {
		return domain.Agreement{}, err
	}
	return h.store.ChangeAgreement(ctx, community, id, fn)
}

// UpdateAgreement changes the masked fields of a draft, or the document
// link of a signed agreement.
func (h *Agreements) UpdateAgreement(ctx context.Context, req *connect.Request[partnersv1.UpdateAgreementRequest]) (*connect.Response[partnersv1.UpdateAgreementResponse], error) {
	u := req.Msg.GetAgreement()
	update := agreementInput(u.GetKind(), u.GetTitle(), u.GetStartDate(), u.GetEndDate(), u.GetValue(), u.GetDocumentUrl())
	a, err := h.change(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), func(current domain.Agreement) (store.AgreementChange, error) {
		next, err := current.Update(update, req.Msg.GetUpdateMask().GetPaths(), h.now())
		return store.AgreementChange{Agreement: next, Action: domain.ActionAgreementUpdated}, err
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "agreement updated", "community", a.Community, "agreement_id", a.ID, "fields", req.Msg.GetUpdateMask().GetPaths())
	return connect.NewResponse(&partnersv1.UpdateAgreementResponse{Agreement: events.AgreementToProto(a)}), nil
}

// SignAgreement signs a draft and publishes AgreementSigned.
func (h *Agreements) SignAgreement(ctx context.Context, req *connect.Request[partnersv1.SignAgreementRequest]) (*connect.Response[partnersv1.SignAgreementResponse], error) {
	a, err := h.change(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), func(current domain.Agreement) (store.AgreementChange, error) {
		next, err := current.Sign(req.Msg.GetSignedOn(), h.today(), h.now())
		if err != nil {
			return store.AgreementChange{}, err
		}
		e, err := h.events.AgreementSigned(next, false)
		return store.AgreementChange{Agreement: next, Events: []kafka.Event{e}, Action: domain.ActionAgreementSigned}, err
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "agreement signed", "community", a.Community, "partner_id", a.PartnerID, "agreement_id", a.ID)
	return connect.NewResponse(&partnersv1.SignAgreementResponse{Agreement: events.AgreementToProto(a)}), nil
}

// ActivateAgreement moves a signed agreement to active.
func (h *Agreements) ActivateAgreement(ctx context.Context, req *connect.Request[partnersv1.ActivateAgreementRequest]) (*connect.Response[partnersv1.ActivateAgreementResponse], error) {
	a, err := h.change(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), func(current domain.Agreement) (store.AgreementChange, error) {
		next, err := current.Activate(h.now())
		return store.AgreementChange{Agreement: next, Action: domain.ActionAgreementActivated}, err
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "agreement activated", "community", a.Community, "agreement_id", a.ID)
	return connect.NewResponse(&partnersv1.ActivateAgreementResponse{Agreement: events.AgreementToProto(a)}), nil
}

// RenewAgreement extends an agreement's term and publishes AgreementSigned
// with renewal set.
func (h *Agreements) RenewAgreement(ctx context.Context, req *connect.Request[partnersv1.RenewAgreementRequest]) (*connect.Response[partnersv1.RenewAgreementResponse], error) {
	in := domain.RenewInput{EndDate: req.Msg.GetEndDate(), Value: events.MoneyFromProto(req.Msg.GetValue()), DocumentURL: req.Msg.GetDocumentUrl()}
	a, err := h.change(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), func(current domain.Agreement) (store.AgreementChange, error) {
		next, renewal, err := current.Renew(in, caller(ctx), h.now())
		if err != nil {
			return store.AgreementChange{}, err
		}
		e, err := h.events.AgreementSigned(next, true)
		return store.AgreementChange{Agreement: next, Renewal: &renewal, Events: []kafka.Event{e}, Action: domain.ActionAgreementRenewed}, err
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "agreement renewed", "community", a.Community, "partner_id", a.PartnerID, "agreement_id", a.ID, "end_date", a.End.String())
	return connect.NewResponse(&partnersv1.RenewAgreementResponse{Agreement: events.AgreementToProto(a)}), nil
}

// TerminateAgreement ends an agreement early and publishes AgreementEnded.
func (h *Agreements) TerminateAgreement(ctx context.Context, req *connect.Request[partnersv1.TerminateAgreementRequest]) (*connect.Response[partnersv1.TerminateAgreementResponse], error) {
	a, err := h.change(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), func(current domain.Agreement) (store.AgreementChange, error) {
		next, err := current.Terminate(req.Msg.GetReason(), req.Msg.GetEndedOn(), h.today(), h.now())
		if err != nil {
			return store.AgreementChange{}, err
		}
		e, err := h.events.AgreementEnded(next, next.UpdatedAt)
		return store.AgreementChange{Agreement: next, Events: []kafka.Event{e}, Action: domain.ActionAgreementTerminated}, err
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "agreement terminated", "community", a.Community, "partner_id", a.PartnerID, "agreement_id", a.ID)
	return connect.NewResponse(&partnersv1.TerminateAgreementResponse{Agreement: events.AgreementToProto(a)}), nil
}

// RunExpirySweep runs the sweep for one community now.
func (h *Agreements) RunExpirySweep(ctx context.Context, req *connect.Request[partnersv1.RunExpirySweepRequest]) (*connect.Response[partnersv1.RunExpirySweepResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	ok, err := h.store.CommunityExists(ctx, community)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if !ok {
		return nil, h.toConnect(ctx, req.Spec(), domain.ErrUnknownCommunity)
	}
	r, err := h.sweeper.Sweep(ctx, community)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&partnersv1.RunExpirySweepResponse{Today: r.Today.String(), Activated: int32(r.Activated),
		Announced: int32(r.Announced), Expired: int32(r.Expired)}), nil
}
