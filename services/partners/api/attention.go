package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/services/partners/domain"
)

// Notifier tells people about attention items: the owner of a
// relationship, or the community's organisers when the owner did nothing
// (or there is none). Send is idempotent on (item, recipient, escalated).
type Notifier interface {
	Send(ctx context.Context, item domain.AttentionItem, memberID string, escalated bool) error
	Organisers(ctx context.Context, community string) ([]string, error)
}

// AttentionReport is what one attention pass of a community did.
type AttentionReport struct {
	Raised, Resolved, Notified, Escalated int
}

// attend runs the attention pass of community after its sweep: it raises
// items for agreements ending within the largest threshold and partners
// due for review, resolves the items whose cause went away, tells each
// new item's owner (the organisers when it has none) and tells the
// organisers about items nobody acknowledged or resolved within
// escalateAfter of the owner being told. Without a notifier items are
// only listed. A failed e-mail is retried at the next pass.
func (s *Sweeper) attend(ctx context.Context, community string, horizon int) (AttentionReport, error) {
	var r AttentionReport
	now := s.now().UTC()
	raised, err := s.store.RaiseAttention(ctx, community, domain.DateOf(now), horizon, now)
	if err != nil {
		return r, err
	}
	r.Raised = len(raised)
	if r.Resolved, err = s.store.ResolveAttention(ctx, community, now); err != nil {
		return r, err
	}
	if s.notifier == nil {
		return r, nil
	}
	open, err := s.store.OpenAttention(ctx, community)
	if err != nil {
		return r, err
	}
	var organisers []string
	organisersOnce := func() ([]string, error) {
		if organisers == nil {
			list, err := s.notifier.Organisers(ctx, community)
			if err != nil {
				return nil, err
			}
			organisers = append([]string{}, list...)
		}
		return organisers, nil
	}
	var errs []error
	for _, item := range open {
		escalatesAt := item.EscalatesAt(s.escalateAfter)
		switch {
		case !item.AcknowledgedAt.IsZero():
			// Someone is on it: nobody else is told.
		case item.NotifiedAt.IsZero() && item.OwnerID != "":
			if err := s.notifier.Send(ctx, item, item.OwnerID, false); err != nil {
				errs = append(errs, fmt.Errorf("notify owner of %s: %w", item.ID, err))
				continue
			}
			if err := s.store.MarkAttention(ctx, community, item.ID, true, false, now); err != nil {
				errs = append(errs, err)
				continue
			}
			r.Notified++
		case item.NotifiedAt.IsZero() || (!escalatesAt.IsZero() && !now.Before(escalatesAt)):
			// No owner to tell, or the owner did nothing in time: the organisers.
			to, err := organisersOnce()
			if err != nil {
				errs = append(errs, fmt.Errorf("find organisers: %w", err))
				continue
			}
			sent := true
			for _, o := range to {
				if err := s.notifier.Send(ctx, item, o, true); err != nil {
					errs = append(errs, fmt.Errorf("escalate %s: %w", item.ID, err))
					sent = false
				}
			}
			if !sent {
				continue
			}
			if err := s.store.MarkAttention(ctx, community, item.ID, item.NotifiedAt.IsZero(), true, now); err != nil {
				errs = append(errs, err)
				continue
			}
			r.Escalated++
		}
	}
	return r, errors.Join(errs...)
}

// Attention implements AttentionService.
type Attention struct {
	base
	escalateAfter time.Duration
}

var _ partnersv1connect.AttentionServiceHandler = (*Attention)(nil)

// NewAttention returns the attention API; items are shown to escalate
// escalateAfter after their owner was told (0 means the default).
func NewAttention(d Deps, escalateAfter time.Duration) *Attention {
	if escalateAfter <= 0 {
		escalateAfter = domain.DefaultEscalateAfter
	}
	return &Attention{base: newBase(d), escalateAfter: escalateAfter}
}

// ListAttention pages through the attention list.
func (h *Attention) ListAttention(ctx context.Context, req *connect.Request[partnersv1.ListAttentionRequest]) (*connect.Response[partnersv1.ListAttentionResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	owner := req.Msg.GetOwnerId()
	if owner != "" {
		if owner, err = required("owner_id", owner); err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
	}
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	after, err := rpc.DecodePageToken(community, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	items, err := h.store.ListAttention(ctx, community, owner, req.Msg.GetIncludeResolved(), after, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &partnersv1.ListAttentionResponse{}
	if len(items) > size {
		items = items[:size]
		res.NextPageToken = rpc.EncodePageToken(community, items[size-1].ID)
	}
	for _, a := range items {
		res.Items = append(res.Items, attentionToProto(a, h.escalateAfter))
	}
	return connect.NewResponse(res), nil
}

// AcknowledgeAttention marks an item as being seen to: it is no longer
// escalated.
func (h *Attention) AcknowledgeAttention(ctx context.Context, req *connect.Request[partnersv1.AcknowledgeAttentionRequest]) (*connect.Response[partnersv1.AcknowledgeAttentionResponse], error) {
	community, id, err := target(req.Msg.GetCommunity(), "id", req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	item, err := h.store.AcknowledgeAttention(ctx, community, id, caller(ctx), h.now())
	if errors.Is(err, domain.ErrAttentionNotFound) {
		return nil, connect.NewError(connect.CodeNotFound, err)
	}
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "attention item acknowledged", "community", community, "attention_id", id)
	return connect.NewResponse(&partnersv1.AcknowledgeAttentionResponse{Item: attentionToProto(item, h.escalateAfter)}), nil
}

var attentionKinds = map[domain.AttentionKind]partnersv1.AttentionKind{
	domain.AttentionAgreementExpiring: partnersv1.AttentionKind_ATTENTION_KIND_AGREEMENT_EXPIRING,
	domain.AttentionReviewDue:         partnersv1.AttentionKind_ATTENTION_KIND_REVIEW_DUE,
}

func attentionToProto(a domain.AttentionItem, escalateAfter time.Duration) *partnersv1.AttentionItem {
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	return &partnersv1.AttentionItem{Id: a.ID, Kind: attentionKinds[a.Kind], PartnerId: a.PartnerID, AgreementId: a.AgreementID,
		DueDate: a.DueDate.String(), OwnerId: a.OwnerID, RaisedAt: ts(a.RaisedAt), NotifiedAt: ts(a.NotifiedAt),
		AcknowledgedAt: ts(a.AcknowledgedAt), AcknowledgedBy: a.AcknowledgedBy, EscalatedAt: ts(a.EscalatedAt),
		ResolvedAt: ts(a.ResolvedAt), Resolution: a.Resolution, EscalatesAt: ts(a.EscalatesAt(escalateAfter))}
}
