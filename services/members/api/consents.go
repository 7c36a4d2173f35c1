package api

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// RecordConsent appends to the consent ledger.
func (h *Handler) RecordConsent(ctx context.Context, req *connect.Request[membersv1.RecordConsentRequest]) (*connect.Response[membersv1.RecordConsentResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	rec, err := domain.NewConsentRecord(m.ID, req.Msg.GetPurpose(), req.Msg.GetGranted(), req.Msg.GetSource(), req.Msg.GetPolicyVersion(), h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	changed, err := h.store.RecordConsent(ctx, m.Community, rec, h.audit, func(r domain.ConsentRecord) ([]kafka.Event, error) {
		e, err := h.events.ConsentChanged(m.Community, r)
		return []kafka.Event{e}, err
	})
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if changed {
		h.logger.InfoContext(ctx, "consent changed", "community", m.Community, "member_id", m.ID, "purpose", rec.Purpose, "granted", rec.Granted)
	}
	ledger, err := h.store.ConsentLedger(ctx, m.Community, m.ID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.RecordConsentResponse{Current: currentToProto(domain.CurrentConsents(ledger))}), nil
}

// GetConsents returns the current consents and the ledger.
func (h *Handler) GetConsents(ctx context.Context, req *connect.Request[membersv1.GetConsentsRequest]) (*connect.Response[membersv1.GetConsentsResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	ledger, err := h.store.ConsentLedger(ctx, m.Community, m.ID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.GetConsentsResponse{Current: currentToProto(domain.CurrentConsents(ledger))}
	for _, r := range ledger {
		res.Ledger = append(res.Ledger, &membersv1.ConsentRecord{Purpose: r.Purpose, Granted: r.Granted,
			OccurredAt: timestamppb.New(r.OccurredAt), Source: r.Source, PolicyVersion: r.PolicyVersion})
	}
	return connect.NewResponse(res), nil
}

func currentToProto(states []domain.ConsentState) []*membersv1.ConsentState {
	out := make([]*membersv1.ConsentState, 0, len(states))
	for _, st := range states {
		s := &membersv1.ConsentState{Purpose: st.Purpose, Granted: st.Granted}
		if !st.ChangedAt.IsZero() {
			s.ChangedAt = timestamppb.New(st.ChangedAt)
		}
		out = append(out, s)
	}
	return out
}
