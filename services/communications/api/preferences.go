package api

import (
	"context"
	"database/sql"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// GetPreferences returns a member's e-mail categories.
func (h *Handler) GetPreferences(ctx context.Context, req *connect.Request[communicationsv1.GetPreferencesRequest]) (*connect.Response[communicationsv1.GetPreferencesResponse], error) {
	r, err := h.recipient(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.GetPreferencesResponse{Preferences: preferencesOf(r)}), nil
}

// SetPreferences changes a member's e-mail categories; leaving one
// publishes Unsubscribed, which the members service records as a consent
// withdrawal. (Opting back in is a consent grant in the members service.)
func (h *Handler) SetPreferences(ctx context.Context, req *connect.Request[communicationsv1.SetPreferencesRequest]) (*connect.Response[communicationsv1.SetPreferencesResponse], error) {
	r, err := h.recipient(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	want := req.Msg.GetPreferences()
	var leave []string
	for _, p := range []struct {
		purpose string
		keep    bool
	}{{domain.PurposeAnnouncements, want.GetAnnouncements()}, {domain.PurposeDigest, want.GetDigest()}} {
		switch {
		case p.keep && !r.Has(p.purpose):
			return nil, h.toConnect(ctx, req.Spec(), validate.Field("preferences", "opting in to %s is a consent grant: record it with the members service", p.purpose))
		case !p.keep && r.Has(p.purpose):
			leave = append(leave, p.purpose)
		}
	}
	if len(leave) > 0 {
		if _, err := h.Unsubscribe(ctx, r.Community, r.MemberID, leave, "preferences-page",
			h.record(ctx, r.Community, "preferences.changed", "member", r.MemberID)); err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
	}
	r, err = h.store.LookupRecipient(ctx, r.Community, r.MemberID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), memberErr(err))
	}
	return connect.NewResponse(&communicationsv1.SetPreferencesResponse{Preferences: preferencesOf(r)}), nil
}

// Unsubscribe withdraws purposes for a member here at once and publishes
// one Unsubscribed for each, with the audit entry audited writes, in one
// transaction. A member who already left those categories changes
// nothing and publishes nothing; changed says which it was.
func (h *Handler) Unsubscribe(ctx context.Context, community, memberID string, purposes []string, source string, audited func(*sql.Tx) error) (changed bool, err error) {
	return h.store.Unsubscribe(ctx, community, memberID, purposes, func(purpose string) (kafka.Event, error) {
		return h.events.Unsubscribed(community, memberID, purpose, source, h.now())
	}, audited)
}

// recipient is the member a preferences call is about: a recipient of the
// caller's community (NotFound otherwise), and the caller's own record
// for members and ambassadors.
func (h *Handler) recipient(ctx context.Context, rawCommunity, memberID string) (domain.Recipient, error) {
	community, err := h.community(rawCommunity)
	if err != nil {
		return domain.Recipient{}, err
	}
	if err := auth.RequireTarget(ctx, memberID); err != nil {
		return domain.Recipient{}, err
	}
	r, err := h.store.LookupRecipient(ctx, community, memberID)
	return r, memberErr(err)
}

func preferencesOf(r domain.Recipient) *communicationsv1.Preferences {
	return &communicationsv1.Preferences{Announcements: r.Has(domain.PurposeAnnouncements), Digest: r.Has(domain.PurposeDigest)}
}

// ListSuppressions lists suppressed addresses.
func (h *Handler) ListSuppressions(ctx context.Context, req *connect.Request[communicationsv1.ListSuppressionsRequest]) (*connect.Response[communicationsv1.ListSuppressionsResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	sps, err := h.store.Suppressions(ctx, community)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &communicationsv1.ListSuppressionsResponse{}
	for _, sp := range sps {
		res.Suppressions = append(res.Suppressions, &communicationsv1.Suppression{Email: sp.Email, Reason: sp.Reason, CreatedAt: timestamppb.New(sp.CreatedAt)})
	}
	return connect.NewResponse(res), nil
}

// RemoveSuppression lets an address receive mail again.
func (h *Handler) RemoveSuppression(ctx context.Context, req *connect.Request[communicationsv1.RemoveSuppressionRequest]) (*connect.Response[communicationsv1.RemoveSuppressionResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	email, ferr := validate.Email("email", req.Msg.GetEmail())
	if ferr != nil {
		return nil, h.toConnect(ctx, req.Spec(), ferr)
	}
	// The entry names no address: addresses are personal data.
	if err := h.store.Unsuppress(ctx, community, email, h.record(ctx, community, "suppression.removed", "suppression", "")); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.RemoveSuppressionResponse{}), nil
}
