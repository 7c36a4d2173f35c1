package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/events/domain"
	published "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/events/store"
)

// target reads what an RSVP call is about: the community, the event, the
// occurrence (or the series) and the member, after checking the caller
// may act for them. All invalid fields are reported together.
func (h *Handler) target(ctx context.Context, rawCommunity, rawEvent, rawOccurrence string, series bool, rawMember string) (community, eventID, occurrenceID, memberID string, err error) {
	if community, err = h.community(rawCommunity); err != nil {
		return "", "", "", "", err
	}
	var errs validate.Errors
	eventID, ferr := domain.ValidateID("event_id", rawEvent)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	switch {
	case series && rawOccurrence != "":
		errs = append(errs, validate.Field("occurrence_id", "must be empty when series is set"))
	case !series:
		if occurrenceID, ferr = domain.ValidateID("occurrence_id", rawOccurrence); ferr != nil {
			errs = append(errs, validate.Field("occurrence_id", "is required unless series is set"))
		}
	}
	if rawMember == "" {
		rawMember = callerMember(ctx)
	}
	if memberID, ferr = domain.ValidateID("member_id", rawMember); ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return "", "", "", "", err
	}
	return community, eventID, occurrenceID, memberID, nil
}

// RSVP records a member's answer for an occurrence or a series.
func (h *Handler) RSVP(ctx context.Context, req *connect.Request[eventsv1.RSVPRequest]) (*connect.Response[eventsv1.RSVPResponse], error) {
	m := req.Msg
	community, eventID, occurrenceID, memberID, err := h.target(ctx, m.GetCommunity(), m.GetEventId(), m.GetOccurrenceId(), m.GetSeries(), m.GetMemberId())
	answer, ok := published.AnswerFromProto(m.GetAnswer())
	if err == nil && !ok {
		err = validate.Field("answer", "must be going or not going")
	}
	if err == nil {
		err = h.requireTarget(ctx, memberID)
	}
	if err == nil {
		err = h.checkMember(ctx, community, memberID)
	}
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	rsvps, err := h.store.Answer(ctx, community, eventID, occurrenceID, memberID, answer, m.GetSeries())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "rsvp recorded", "community", community, "event_id", eventID, "occurrence_id", occurrenceID,
		"member_id", memberID, "answer", string(answer), "occurrences", len(rsvps))
	return connect.NewResponse(&eventsv1.RSVPResponse{Rsvps: rsvpsToProto(rsvps)}), nil
}

// CancelRSVP withdraws a member's answer.
func (h *Handler) CancelRSVP(ctx context.Context, req *connect.Request[eventsv1.CancelRSVPRequest]) (*connect.Response[eventsv1.CancelRSVPResponse], error) {
	m := req.Msg
	community, eventID, occurrenceID, memberID, err := h.target(ctx, m.GetCommunity(), m.GetEventId(), m.GetOccurrenceId(), m.GetSeries(), m.GetMemberId())
	if err == nil {
		err = h.requireTarget(ctx, memberID)
	}
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	rsvps, err := h.store.Cancel(ctx, community, eventID, occurrenceID, memberID, m.GetSeries())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "rsvp cancelled", "community", community, "event_id", eventID, "occurrence_id", occurrenceID,
		"member_id", memberID, "occurrences", len(rsvps))
	return connect.NewResponse(&eventsv1.CancelRSVPResponse{Rsvps: rsvpsToProto(rsvps)}), nil
}

// occurrenceMember reads the community, occurrence and member of a call
// about one member's seat.
func (h *Handler) occurrenceMember(ctx context.Context, rawCommunity, rawOccurrence, rawMember string) (community, occurrenceID, memberID string, err error) {
	if community, err = h.community(rawCommunity); err != nil {
		return "", "", "", err
	}
	var errs validate.Errors
	occurrenceID, ferr := domain.ValidateID("occurrence_id", rawOccurrence)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	if rawMember == "" {
		rawMember = callerMember(ctx)
	}
	if memberID, ferr = domain.ValidateID("member_id", rawMember); ferr != nil {
		errs = append(errs, ferr)
	}
	if err := errs.Err(); err != nil {
		return "", "", "", err
	}
	return community, occurrenceID, memberID, h.requireTarget(ctx, memberID)
}

// AcceptSeatOffer takes an offered seat.
func (h *Handler) AcceptSeatOffer(ctx context.Context, req *connect.Request[eventsv1.AcceptSeatOfferRequest]) (*connect.Response[eventsv1.AcceptSeatOfferResponse], error) {
	community, occurrenceID, memberID, err := h.occurrenceMember(ctx, req.Msg.GetCommunity(), req.Msg.GetOccurrenceId(), req.Msg.GetMemberId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	r, err := h.store.AcceptOffer(ctx, community, occurrenceID, memberID)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "seat offer accepted", "community", community, "occurrence_id", occurrenceID, "member_id", memberID)
	return connect.NewResponse(&eventsv1.AcceptSeatOfferResponse{Rsvp: rsvpToProto(r)}), nil
}

// ExpireSeatOffers passes expired seat offers on.
func (h *Handler) ExpireSeatOffers(ctx context.Context, req *connect.Request[eventsv1.ExpireSeatOffersRequest]) (*connect.Response[eventsv1.ExpireSeatOffersResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	expired, offered, err := h.store.ExpireOffers(ctx, community)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	if expired > 0 {
		h.logger.InfoContext(ctx, "seat offers expired", "community", community, "expired", expired, "offered", offered)
	}
	return connect.NewResponse(&eventsv1.ExpireSeatOffersResponse{Expired: int32(expired), Offered: int32(offered)}), nil
}

// GetRSVP returns one member's RSVP to an occurrence.
func (h *Handler) GetRSVP(ctx context.Context, req *connect.Request[eventsv1.GetRSVPRequest]) (*connect.Response[eventsv1.GetRSVPResponse], error) {
	community, occurrenceID, memberID, err := h.occurrenceMember(ctx, req.Msg.GetCommunity(), req.Msg.GetOccurrenceId(), req.Msg.GetMemberId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	r, err := h.store.RSVP(ctx, community, occurrenceID, memberID)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	return connect.NewResponse(&eventsv1.GetRSVPResponse{Rsvp: rsvpToProto(r)}), nil
}

// Page sizes of attendee and feedback lists.
const (
	defaultAttendees = 100
	maxAttendees     = 500
	defaultFeedback  = 50
	maxFeedback      = 200
)

func pageSize(raw int32, def, max int) (int, error) {
	switch {
	case raw == 0:
		return def, nil
	case raw < 0 || int(raw) > max:
		return 0, validate.Field("page_size", "must be between 1 and %d", max)
	}
	return int(raw), nil
}

// ListAttendees pages through an occurrence's RSVPs, for the organising
// team and the hosts of the occurrence's event.
func (h *Handler) ListAttendees(ctx context.Context, req *connect.Request[eventsv1.ListAttendeesRequest]) (*connect.Response[eventsv1.ListAttendeesResponse], error) {
	fail := func(err error) (*connect.Response[eventsv1.ListAttendeesResponse], error) {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return fail(err)
	}
	occurrenceID, err := id("occurrence_id", req.Msg.GetOccurrenceId())
	if err != nil {
		return fail(err)
	}
	if err := h.runsDoor(ctx, community, occurrenceID); err != nil {
		return fail(err)
	}
	size, err := pageSize(req.Msg.GetPageSize(), defaultAttendees, maxAttendees)
	if err != nil {
		return fail(err)
	}
	scope := "attendees:" + community + ":" + occurrenceID
	offset, err := store.DecodeOffset(scope, req.Msg.GetPageToken())
	if err != nil {
		return fail(err)
	}
	if _, err := h.store.GetOccurrence(ctx, community, occurrenceID); err != nil {
		return fail(err)
	}
	rsvps, err := h.store.Attendees(ctx, community, occurrenceID, offset, size+1)
	if err != nil {
		return fail(err)
	}
	res := &eventsv1.ListAttendeesResponse{}
	if len(rsvps) > size {
		rsvps = rsvps[:size]
		res.NextPageToken = store.EncodeOffset(scope, offset+size)
	}
	res.Rsvps = rsvpsToProto(rsvps)
	return connect.NewResponse(res), nil
}

// CheckIn marks a seat attended: a member's own by its code; anyone's,
// by code or by member, for the organising team and for the hosts of the
// occurrence's event.
func (h *Handler) CheckIn(ctx context.Context, req *connect.Request[eventsv1.CheckInRequest]) (*connect.Response[eventsv1.CheckInResponse], error) {
	fail := func(err error) (*connect.Response[eventsv1.CheckInResponse], error) {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return fail(err)
	}
	team := isTeam(ctx)
	var occurrenceID, memberID string
	if raw := req.Msg.GetCode(); raw != "" {
		code, ferr := domain.ParseCheckInCode(community, raw)
		if ferr != nil {
			return fail(ferr)
		}
		r, err := h.store.RSVPByCode(ctx, community, code)
		if err != nil {
			return fail(err)
		}
		occurrenceID, memberID = r.OccurrenceID, r.MemberID
		// Someone else's seat: only the team and the event's hosts.
		if memberID != callerMember(ctx) {
			if err := h.runsDoor(ctx, community, occurrenceID); err != nil {
				return fail(err)
			}
		}
	} else {
		if occurrenceID, memberID, err = h.seat(req.Msg.GetOccurrenceId(), req.Msg.GetMemberId()); err != nil {
			if !team && req.Msg.GetOccurrenceId() == "" {
				err = validate.Field("code", "is required: members check in with their seat's code")
			}
			return fail(err)
		}
		if err := h.runsDoor(ctx, community, occurrenceID); err != nil {
			if errors.Is(err, domain.ErrNotHost) && memberID == callerMember(ctx) {
				err = validate.Field("code", "is required: members check in with their seat's code")
			}
			return fail(err)
		}
	}
	// Hosts check in within the opening hours like members; only the
	// team may check in after the end or turn a no-show around.
	r, err := h.store.CheckIn(ctx, community, occurrenceID, memberID, team)
	if err != nil {
		return fail(err)
	}
	h.logger.InfoContext(ctx, "checked in", "community", community, "occurrence_id", occurrenceID, "member_id", memberID)
	return connect.NewResponse(&eventsv1.CheckInResponse{Rsvp: rsvpToProto(r)}), nil
}

func (h *Handler) seat(rawOccurrence, rawMember string) (string, string, error) {
	var errs validate.Errors
	occurrenceID, ferr := domain.ValidateID("occurrence_id", rawOccurrence)
	if ferr != nil {
		errs = append(errs, validate.Field("occurrence_id", "is required without a code"))
	}
	memberID, ferr := domain.ValidateID("member_id", rawMember)
	if ferr != nil {
		errs = append(errs, validate.Field("member_id", "is required without a code"))
	}
	return occurrenceID, memberID, errs.Err()
}

// MarkNoShows marks the missed seats of an ended occurrence.
func (h *Handler) MarkNoShows(ctx context.Context, req *connect.Request[eventsv1.MarkNoShowsRequest]) (*connect.Response[eventsv1.MarkNoShowsResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	occurrenceID, err := id("occurrence_id", req.Msg.GetOccurrenceId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	n, err := h.store.MarkNoShows(ctx, community, occurrenceID)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "no-shows marked", "community", community, "occurrence_id", occurrenceID, "marked", n)
	return connect.NewResponse(&eventsv1.MarkNoShowsResponse{Marked: int32(n)}), nil
}

// GiveFeedback stores an attendee's rating.
func (h *Handler) GiveFeedback(ctx context.Context, req *connect.Request[eventsv1.GiveFeedbackRequest]) (*connect.Response[eventsv1.GiveFeedbackResponse], error) {
	community, occurrenceID, memberID, err := h.occurrenceMember(ctx, req.Msg.GetCommunity(), req.Msg.GetOccurrenceId(), req.Msg.GetMemberId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	rating, comment, err := domain.NewFeedback(int(req.Msg.GetRating()), req.Msg.GetComment())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	fb, err := h.store.GiveFeedback(ctx, domain.Feedback{Community: community, OccurrenceID: occurrenceID, MemberID: memberID, Rating: rating, Comment: comment})
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "feedback given", "community", community, "occurrence_id", occurrenceID, "member_id", memberID, "rating", rating)
	return connect.NewResponse(&eventsv1.GiveFeedbackResponse{Feedback: feedbackToProto(fb)}), nil
}

// GetFeedbackSummary aggregates an event's or occurrence's ratings.
func (h *Handler) GetFeedbackSummary(ctx context.Context, req *connect.Request[eventsv1.GetFeedbackSummaryRequest]) (*connect.Response[eventsv1.GetFeedbackSummaryResponse], error) {
	e, occs, err := h.visible(ctx, req.Msg.GetCommunity(), req.Msg.GetEventId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), renamed(err, "id", "event_id"))
	}
	occurrenceID := req.Msg.GetOccurrenceId()
	if occurrenceID != "" {
		found := false
		for _, o := range occs {
			found = found || o.ID == occurrenceID
		}
		if !found {
			return nil, toConnect(ctx, h.logger, req.Spec(), domain.ErrOccurrenceNotFound)
		}
	}
	sum, err := h.store.FeedbackSummary(ctx, e.Community, e.ID, occurrenceID)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	p := &eventsv1.FeedbackSummary{EventId: e.ID, OccurrenceId: occurrenceID, Count: int32(sum.Count), Average: sum.Average}
	for _, n := range sum.Distribution {
		p.Distribution = append(p.Distribution, int32(n))
	}
	return connect.NewResponse(&eventsv1.GetFeedbackSummaryResponse{Summary: p}), nil
}

// renamed reports a field error about from as one about to.
func renamed(err error, from, to string) error {
	var fe *validate.FieldError
	if errors.As(err, &fe) && fe.Field == from {
		return validate.Field(to, "%s", fe.Reason)
	}
	return err
}

// ListFeedback pages through an event's ratings and comments.
func (h *Handler) ListFeedback(ctx context.Context, req *connect.Request[eventsv1.ListFeedbackRequest]) (*connect.Response[eventsv1.ListFeedbackResponse], error) {
	fail := func(err error) (*connect.Response[eventsv1.ListFeedbackResponse], error) {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	e, _, err := h.visible(ctx, req.Msg.GetCommunity(), req.Msg.GetEventId())
	if err != nil {
		return fail(renamed(err, "id", "event_id"))
	}
	size, err := pageSize(req.Msg.GetPageSize(), defaultFeedback, maxFeedback)
	if err != nil {
		return fail(err)
	}
	scope := "feedback:" + e.Community + ":" + e.ID
	offset, err := store.DecodeOffset(scope, req.Msg.GetPageToken())
	if err != nil {
		return fail(err)
	}
	list, err := h.store.ListFeedback(ctx, e.Community, e.ID, offset, size+1)
	if err != nil {
		return fail(err)
	}
	// Reading comments is audited on its own: it changes no data.
	if err := h.audit.RecordNow(ctx, e.Community, domain.ActionFeedbackListed, domain.TargetEvent, e.ID); err != nil {
		return fail(err)
	}
	res := &eventsv1.ListFeedbackResponse{}
	if len(list) > size {
		list = list[:size]
		res.NextPageToken = store.EncodeOffset(scope, offset+size)
	}
	for _, f := range list {
		res.Feedback = append(res.Feedback, feedbackToProto(f))
	}
	return connect.NewResponse(res), nil
}
