package api

import (
	"context"
	"time"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/events/store"
)

// Seat offers are listed up to this far ahead.
const (
	defaultOfferWindow = 24 * time.Hour
	maxOfferWindow     = 30 * 24 * time.Hour
)

// ListMemberRSVPs pages through one member's RSVPs across every event.
func (h *Handler) ListMemberRSVPs(ctx context.Context, req *connect.Request[eventsv1.ListMemberRSVPsRequest]) (*connect.Response[eventsv1.ListMemberRSVPsResponse], error) {
	fail := func(err error) (*connect.Response[eventsv1.ListMemberRSVPsResponse], error) {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return fail(err)
	}
	memberID, err := member(ctx, req.Msg.GetMemberId())
	if err != nil {
		return fail(err)
	}
	size, err := pageSize(req.Msg.GetPageSize(), defaultAttendees, maxAttendees)
	if err != nil {
		return fail(err)
	}
	// From the start of today (UTC) by default: today's events stay in
	// the list, and pages asked later in the day still fit together.
	from := h.now().UTC().Truncate(24 * time.Hour)
	if t := req.Msg.GetFromTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return fail(validate.Field("from_time", "is not a valid time"))
		}
		from = t.AsTime()
	}
	scope := "member-rsvps:" + community + ":" + memberID + ":" + from.UTC().Format(time.RFC3339Nano)
	offset, err := store.DecodeOffset(scope, req.Msg.GetPageToken())
	if err != nil {
		return fail(err)
	}
	rsvps, err := h.store.MemberRSVPs(ctx, community, memberID, from, offset, size+1)
	if err != nil {
		return fail(err)
	}
	res := &eventsv1.ListMemberRSVPsResponse{}
	if len(rsvps) > size {
		rsvps = rsvps[:size]
		res.NextPageToken = store.EncodeOffset(scope, offset+size)
	}
	res.Rsvps = rsvpsToProto(rsvps)
	return connect.NewResponse(res), nil
}

// ListSeatOffers lists the community's open seat offers expiring soon.
func (h *Handler) ListSeatOffers(ctx context.Context, req *connect.Request[eventsv1.ListSeatOffersRequest]) (*connect.Response[eventsv1.ListSeatOffersResponse], error) {
	fail := func(err error) (*connect.Response[eventsv1.ListSeatOffersResponse], error) {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return fail(err)
	}
	size, err := pageSize(req.Msg.GetPageSize(), defaultAttendees, maxAttendees)
	if err != nil {
		return fail(err)
	}
	now := h.now()
	before := now.Add(defaultOfferWindow)
	if t := req.Msg.GetExpiringBefore(); t != nil {
		if err := t.CheckValid(); err != nil || t.AsTime().After(now.Add(maxOfferWindow)) {
			return fail(validate.Field("expiring_before", "must be a time at most 30 days ahead"))
		}
		before = t.AsTime()
	}
	// The default window moves with the clock, so its pages are scoped to
	// the community alone.
	scope := "seat-offers:" + community
	if t := req.Msg.GetExpiringBefore(); t != nil {
		scope += ":" + before.UTC().Format(time.RFC3339Nano)
	}
	offset, err := store.DecodeOffset(scope, req.Msg.GetPageToken())
	if err != nil {
		return fail(err)
	}
	rsvps, err := h.store.OpenOffers(ctx, community, before, offset, size+1)
	if err != nil {
		return fail(err)
	}
	res := &eventsv1.ListSeatOffersResponse{}
	if len(rsvps) > size {
		rsvps = rsvps[:size]
		res.NextPageToken = store.EncodeOffset(scope, offset+size)
	}
	res.Rsvps = rsvpsToProto(rsvps)
	return connect.NewResponse(res), nil
}
