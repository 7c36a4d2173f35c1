package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/events/domain"
	"github.com/kinshiphq/kinship/services/events/store"
)

// CreateEvent stores a draft event with its occurrences.
func (h *Handler) CreateEvent(ctx context.Context, req *connect.Request[eventsv1.CreateEventRequest]) (*connect.Response[eventsv1.CreateEventResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	spec, err := specFromProto(req.Msg.GetEvent())
	now := h.now()
	e, starts, verr := domain.NewEvent(community, spec, newID(), now)
	if err = validate.Errors(append(validate.FieldErrors(err), validate.FieldErrors(verr)...)).Err(); err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	if verr != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), verr)
	}
	if err := h.checkPeople(ctx, community, e.Spec, domain.Spec{}, nil); err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	occs := domain.NewOccurrences(e, starts, newID, now)
	if err := h.store.CreateEvent(ctx, e, occs); err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "event created", "community", community, "event_id", e.ID, "occurrences", len(occs))
	return connect.NewResponse(&eventsv1.CreateEventResponse{Event: eventToProto(e, occs, true)}), nil
}

// UpdateEvent changes an event, one occurrence, or one occurrence and the
// following ones.
func (h *Handler) UpdateEvent(ctx context.Context, req *connect.Request[eventsv1.UpdateEventRequest]) (*connect.Response[eventsv1.UpdateEventResponse], error) {
	fail := func(err error) (*connect.Response[eventsv1.UpdateEventResponse], error) {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return fail(err)
	}
	eventID, err := id("id", req.Msg.GetId())
	if err != nil {
		return fail(err)
	}
	update, err := specFromProto(req.Msg.GetEvent())
	if err != nil {
		return fail(err)
	}
	paths := req.Msg.GetUpdateMask().GetPaths()
	scope := req.Msg.GetScope()
	var occurrenceID string
	switch scope {
	case eventsv1.UpdateScope_UPDATE_SCOPE_UNSPECIFIED, eventsv1.UpdateScope_UPDATE_SCOPE_EVENT:
		err = domain.CheckMask(paths, domain.EventPaths(), "an event")
	case eventsv1.UpdateScope_UPDATE_SCOPE_OCCURRENCE:
		err = domain.CheckMask(paths, domain.OccurrencePaths, "one occurrence")
	case eventsv1.UpdateScope_UPDATE_SCOPE_THIS_AND_FOLLOWING:
		err = domain.CheckMask(paths, domain.EventPaths(), "an event")
	default:
		err = validate.Field("scope", "must be event, occurrence or this and following")
	}
	if err != nil {
		return fail(err)
	}
	if scope == eventsv1.UpdateScope_UPDATE_SCOPE_OCCURRENCE || scope == eventsv1.UpdateScope_UPDATE_SCOPE_THIS_AND_FOLLOWING {
		if occurrenceID, err = id("occurrence_id", req.Msg.GetOccurrenceId()); err != nil {
			return fail(err)
		}
	}
	if slices.ContainsFunc(paths, func(p string) bool { return p == "organiser_ids" || p == "host_ids" || p == "partner_id" }) {
		current, _, err := h.store.GetEvent(ctx, community, eventID)
		if err != nil {
			return fail(err)
		}
		if err := h.checkPeople(ctx, community, update, current.Spec, paths); err != nil {
			return fail(err)
		}
	}
	var changed []string
	change, err := h.store.MutateEvent(ctx, community, eventID, func(e domain.Event, occs []domain.Occurrence, now time.Time) (store.EventChange, error) {
		if err := e.Editable(); err != nil {
			return store.EventChange{}, err
		}
		switch scope {
		case eventsv1.UpdateScope_UPDATE_SCOPE_OCCURRENCE:
			return h.updateOccurrence(e, occs, occurrenceID, update, paths, now, &changed)
		case eventsv1.UpdateScope_UPDATE_SCOPE_THIS_AND_FOLLOWING:
			return h.splitSeries(e, occs, occurrenceID, update, paths, now, &changed)
		}
		return h.updateWhole(e, occs, update, paths, now, &changed)
	})
	if err != nil {
		return fail(err)
	}
	h.logger.InfoContext(ctx, "event updated", "community", community, "event_id", eventID, "fields", changed, "scope", scope.String())
	res := &eventsv1.UpdateEventResponse{Event: eventToProto(change.Event, own(change.Occurrences, change.Event.ID), true)}
	if change.NewEvent != nil {
		res.NewEvent = eventToProto(*change.NewEvent, own(change.Occurrences, change.NewEvent.ID), true)
	}
	return connect.NewResponse(res), nil
}

func own(occs []domain.Occurrence, eventID string) []domain.Occurrence {
	var out []domain.Occurrence
	for _, o := range occs {
		if o.EventID == eventID {
			out = append(out, o)
		}
	}
	return out
}

func started(occs []domain.Occurrence, now time.Time) bool {
	return slices.ContainsFunc(occs, func(o domain.Occurrence) bool { return o.Status == domain.OccurrenceScheduled && o.Started(now) })
}

// updateWhole applies an update to every occurrence of e.
func (h *Handler) updateWhole(e domain.Event, occs []domain.Occurrence, update domain.Spec, paths []string, now time.Time, changed *[]string) (store.EventChange, error) {
	spec, starts, err := domain.ApplyMask(e.Spec, update, paths).Validate()
	if err != nil {
		return store.EventChange{}, err
	}
	*changed = domain.ChangedPaths(e.Spec, spec)
	if len(*changed) == 0 {
		return store.EventChange{Event: e, Occurrences: occs}, nil
	}
	timing := domain.TimingChanged(*changed)
	if timing && e.Status != domain.StatusDraft && started(occs, now) {
		if e.Recurring() {
			return store.EventChange{}, domain.ErrSeriesStarted
		}
		return store.EventChange{}, domain.ErrOccurrenceEnded
	}
	if timing && !spec.Start.After(now) {
		return store.EventChange{}, validate.Field("start_time", "must be in the future")
	}
	e.Spec, e.UpdatedAt = spec, now
	if e.Status != domain.StatusDraft {
		e.Sequence++
	}
	var cancelled []string
	if timing {
		plan := domain.PlanOccurrences(occs, starts, e.Location())
		next := make([]domain.Occurrence, 0, len(starts))
		for _, o := range occs {
			if start, ok := plan.Keep[o.ID]; ok {
				next = append(next, domain.Reschedule(o, e, start, now))
				continue
			}
			if o.Status == domain.OccurrenceScheduled {
				o.Status, o.UpdatedAt = domain.OccurrenceCancelled, now
				o.Sequence++
				cancelled = append(cancelled, o.ID)
			}
			next = append(next, o)
		}
		occs = append(next, domain.NewOccurrences(e, plan.Create, newID, now)...)
	} else if slices.Contains(*changed, "capacity") {
		for i, o := range occs {
			if !o.CapacityOverridden {
				occs[i].Capacity = e.Capacity
			}
		}
	}
	change := store.EventChange{Event: e, Occurrences: occs, Audit: []store.Entry{{Action: domain.ActionEventUpdated, TargetType: domain.TargetEvent, TargetID: e.ID}}}
	if e.Status == domain.StatusPublished {
		c := collect{}
		c.add(h.events.EventUpdated(e, "", *changed, occs))
		for _, id := range cancelled {
			c.add(h.events.EventCancelled(e, id, "", now))
		}
		if c.err != nil {
			return change, c.err
		}
		change.Events = c.events
	}
	return change, nil
}

// editableOccurrence finds the occurrence of the recurring event e that
// an edit names; a cancelled or started occurrence cannot be edited.
func editableOccurrence(e domain.Event, occs []domain.Occurrence, occurrenceID string, now time.Time) (int, error) {
	if !e.Recurring() {
		return 0, domain.ErrNotRecurring
	}
	i := slices.IndexFunc(occs, func(o domain.Occurrence) bool { return o.ID == occurrenceID })
	switch {
	case i < 0:
		return 0, domain.ErrOccurrenceNotFound
	case occs[i].Status == domain.OccurrenceCancelled:
		return 0, domain.ErrOccurrenceCancelled
	case occs[i].Started(now):
		return 0, domain.ErrOccurrenceEnded
	}
	return i, nil
}

// updateOccurrence applies an update to one occurrence of e.
func (h *Handler) updateOccurrence(e domain.Event, occs []domain.Occurrence, occurrenceID string, update domain.Spec, paths []string, now time.Time, changed *[]string) (store.EventChange, error) {
	i, err := editableOccurrence(e, occs, occurrenceID, now)
	if err != nil {
		return store.EventChange{}, err
	}
	o, ch, err := domain.OverrideOccurrence(e, occs[i], update, paths, now)
	if err != nil {
		return store.EventChange{}, err
	}
	*changed = ch
	occs[i] = o
	change := store.EventChange{Event: e, Occurrences: occs}
	if len(ch) > 0 {
		e.UpdatedAt = now
		change.Event = e
		change.Audit = []store.Entry{{Action: domain.ActionEventUpdated, TargetType: domain.TargetOccurrence, TargetID: o.ID}}
		if e.Status == domain.StatusPublished {
			ev, err := h.events.EventUpdated(e, o.ID, ch, []domain.Occurrence{o})
			if err != nil {
				return change, err
			}
			change.Events = []kafka.Event{ev}
		}
	}
	return change, nil
}

// splitSeries ends e before the named occurrence and moves it and the
// following occurrences to a new event carrying the update.
func (h *Handler) splitSeries(e domain.Event, occs []domain.Occurrence, occurrenceID string, update domain.Spec, paths []string, now time.Time, changed *[]string) (store.EventChange, error) {
	pivot, err := editableOccurrence(e, occs, occurrenceID, now)
	if err != nil {
		return store.EventChange{}, err
	}
	p := occs[pivot]
	if p.RecurrenceID.Equal(e.Start) {
		return h.updateWhole(e, occs, update, paths, now, changed) // the first: the whole series
	}
	loc := e.Location()
	before, after, err := domain.SplitRule(e.RRule, e.Start, loc, p.RecurrenceID)
	if err != nil {
		return store.EventChange{}, err
	}
	exBefore, exAfter := domain.ExDatesBefore(e.ExDates, p.RecurrenceID)
	base := e.Spec
	base.RRule, base.ExDates, base.Start, base.End = after, exAfter, p.RecurrenceID, p.RecurrenceID.Add(e.Duration())
	spec, starts, err := domain.ApplyMask(base, update, paths).Validate()
	if err != nil {
		return store.EventChange{}, err
	}
	if !spec.Start.After(now) {
		return store.EventChange{}, validate.Field("start_time", "must be in the future")
	}
	*changed = domain.ChangedPaths(base, spec)
	b := domain.Event{ID: newID(), Community: e.Community, Spec: spec, Status: e.Status, CreatedAt: now, UpdatedAt: now, SplitFromID: e.ID}
	if e.Status == domain.StatusPublished {
		b.PublishedAt = now
	}
	e.RRule, e.ExDates, e.UpdatedAt = before, exBefore, now
	if _, _, err := domain.Expand(e.RRule, e.ExDates, e.Start, loc); err != nil {
		return store.EventChange{}, err
	}
	if e.Status != domain.StatusDraft {
		e.Sequence++
	}
	var earlier, following []domain.Occurrence
	for _, o := range occs {
		if o.RecurrenceID.Before(p.RecurrenceID) {
			earlier = append(earlier, o)
		} else {
			following = append(following, o)
		}
	}
	plan := domain.PlanOccurrences(following, starts, b.Location())
	next := earlier
	var cancelled []string
	for _, o := range following {
		if start, ok := plan.Keep[o.ID]; ok {
			next = append(next, domain.Reschedule(o, b, start, now))
			continue
		}
		if o.Status == domain.OccurrenceScheduled {
			o.Status, o.UpdatedAt = domain.OccurrenceCancelled, now
			o.Sequence++
			cancelled = append(cancelled, o.ID)
		}
		next = append(next, o)
	}
	next = append(next, domain.NewOccurrences(b, plan.Create, newID, now)...)
	change := store.EventChange{Event: e, Occurrences: next, NewEvent: &b, Audit: []store.Entry{
		{Action: domain.ActionEventUpdated, TargetType: domain.TargetEvent, TargetID: e.ID},
		{Action: domain.ActionEventCreated, TargetType: domain.TargetEvent, TargetID: b.ID},
	}}
	if e.Status == domain.StatusPublished {
		c := collect{}
		c.add(h.events.EventUpdated(e, "", []string{"recurrence"}, own(next, e.ID)))
		c.add(h.events.EventScheduled(b, own(next, b.ID)))
		for _, id := range cancelled {
			c.add(h.events.EventCancelled(e, id, "", now))
		}
		if c.err != nil {
			return change, c.err
		}
		change.Events = c.events
	}
	return change, nil
}

type collect struct {
	events []kafka.Event
	err    error
}

func (c *collect) add(e kafka.Event, err error) {
	if err != nil && c.err == nil {
		c.err = err
	}
	if err == nil {
		c.events = append(c.events, e)
	}
}

// PublishEvent publishes a draft.
func (h *Handler) PublishEvent(ctx context.Context, req *connect.Request[eventsv1.PublishEventRequest]) (*connect.Response[eventsv1.PublishEventResponse], error) {
	change, err := h.mutate(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), func(e domain.Event, occs []domain.Occurrence, now time.Time) (store.EventChange, error) {
		if !domain.CanMove(e.Status, domain.StatusPublished) {
			return store.EventChange{}, domain.ErrBadTransition
		}
		if !e.Start.After(now) {
			return store.EventChange{}, domain.ErrOccurrenceEnded
		}
		e.Status, e.PublishedAt, e.UpdatedAt = domain.StatusPublished, now, now
		ev, err := h.events.EventScheduled(e, occs)
		if err != nil {
			return store.EventChange{}, err
		}
		return store.EventChange{Event: e, Occurrences: occs, Events: []kafka.Event{ev},
			Audit: []store.Entry{{Action: domain.ActionEventPublished, TargetType: domain.TargetEvent, TargetID: e.ID}}}, nil
	})
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "event published", "community", change.Event.Community, "event_id", change.Event.ID)
	return connect.NewResponse(&eventsv1.PublishEventResponse{Event: eventToProto(change.Event, change.Occurrences, true)}), nil
}

// CancelEvent cancels an event or one occurrence of it.
func (h *Handler) CancelEvent(ctx context.Context, req *connect.Request[eventsv1.CancelEventRequest]) (*connect.Response[eventsv1.CancelEventResponse], error) {
	reason, err := domain.CheckReason(req.Msg.GetReason())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	occurrenceID := req.Msg.GetOccurrenceId()
	if occurrenceID != "" {
		if occurrenceID, err = id("occurrence_id", occurrenceID); err != nil {
			return nil, toConnect(ctx, h.logger, req.Spec(), err)
		}
	}
	change, err := h.mutate(ctx, req.Msg.GetCommunity(), req.Msg.GetId(), func(e domain.Event, occs []domain.Occurrence, now time.Time) (store.EventChange, error) {
		audit := func(target, targetID string) []store.Entry {
			return []store.Entry{{Action: domain.ActionEventCancelled, TargetType: target, TargetID: targetID}}
		}
		if occurrenceID != "" {
			if err := e.Editable(); err != nil {
				return store.EventChange{}, err
			}
			i := slices.IndexFunc(occs, func(o domain.Occurrence) bool { return o.ID == occurrenceID })
			switch {
			case i < 0:
				return store.EventChange{}, domain.ErrOccurrenceNotFound
			case occs[i].Status == domain.OccurrenceCancelled:
				return store.EventChange{Event: e, Occurrences: occs}, nil
			case occs[i].Ended(now):
				return store.EventChange{}, domain.ErrOccurrenceEnded
			}
			occs[i].Status, occs[i].UpdatedAt = domain.OccurrenceCancelled, now
			occs[i].Sequence++
			e.UpdatedAt = now
			change := store.EventChange{Event: e, Occurrences: occs, Audit: audit(domain.TargetOccurrence, occurrenceID)}
			if e.Status == domain.StatusPublished {
				ev, err := h.events.EventCancelled(e, occurrenceID, reason, now)
				if err != nil {
					return change, err
				}
				change.Events = []kafka.Event{ev}
			}
			return change, nil
		}
		if e.Status == domain.StatusCancelled {
			return store.EventChange{Event: e, Occurrences: occs}, nil
		}
		if !domain.CanMove(e.Status, domain.StatusCancelled) {
			return store.EventChange{}, domain.ErrBadTransition
		}
		wasPublished := e.Status == domain.StatusPublished
		e.Status, e.CancelledAt, e.CancelReason, e.UpdatedAt = domain.StatusCancelled, now, reason, now
		change := store.EventChange{Event: e, Occurrences: occs, Audit: audit(domain.TargetEvent, e.ID)}
		if wasPublished {
			e.Sequence++
			change.Event = e
			ev, err := h.events.EventCancelled(e, "", reason, now)
			if err != nil {
				return change, err
			}
			change.Events = []kafka.Event{ev}
		}
		return change, nil
	})
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "event cancelled", "community", change.Event.Community, "event_id", change.Event.ID, "occurrence_id", occurrenceID)
	return connect.NewResponse(&eventsv1.CancelEventResponse{Event: eventToProto(change.Event, change.Occurrences, true)}), nil
}

// CompleteEvent completes a published event whose occurrences all ended.
func (h *Handler) CompleteEvent(ctx context.Context, req *connect.Request[eventsv1.CompleteEventRequest]) (*connect.Response[eventsv1.CompleteEventResponse], error) {
	change, err := h.Complete(ctx, req.Msg.GetCommunity(), req.Msg.GetId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	return connect.NewResponse(&eventsv1.CompleteEventResponse{Event: eventToProto(change.Event, change.Occurrences, true)}), nil
}

// Complete moves a published event whose last occurrence ended to
// completed; completing it again changes nothing.
func (h *Handler) Complete(ctx context.Context, community, eventID string) (store.EventChange, error) {
	return h.mutate(ctx, community, eventID, func(e domain.Event, occs []domain.Occurrence, now time.Time) (store.EventChange, error) {
		if e.Status == domain.StatusCompleted {
			return store.EventChange{Event: e, Occurrences: occs}, nil
		}
		if !domain.CanMove(e.Status, domain.StatusCompleted) {
			return store.EventChange{}, domain.ErrBadTransition
		}
		for _, o := range occs {
			if o.Status == domain.OccurrenceScheduled && o.EventID == e.ID && !o.Ended(now) {
				return store.EventChange{}, domain.ErrStillRunning
			}
		}
		e.Status, e.UpdatedAt = domain.StatusCompleted, now
		ev, err := h.events.EventUpdated(e, "", []string{"status"}, occs)
		if err != nil {
			return store.EventChange{}, err
		}
		return store.EventChange{Event: e, Occurrences: occs, Events: []kafka.Event{ev}, Completed: true,
			Audit: []store.Entry{{Action: domain.ActionEventCompleted, TargetType: domain.TargetEvent, TargetID: e.ID}}}, nil
	})
}

func (h *Handler) mutate(ctx context.Context, rawCommunity, rawID string, fn func(e domain.Event, occs []domain.Occurrence, now time.Time) (store.EventChange, error)) (store.EventChange, error) {
	community, err := h.community(rawCommunity)
	if err != nil {
		return store.EventChange{}, err
	}
	eventID, err := id("id", rawID)
	if err != nil {
		return store.EventChange{}, err
	}
	return h.store.MutateEvent(ctx, community, eventID, fn)
}

// GetEvent returns one event with its occurrences.
func (h *Handler) GetEvent(ctx context.Context, req *connect.Request[eventsv1.GetEventRequest]) (*connect.Response[eventsv1.GetEventResponse], error) {
	e, occs, err := h.visible(ctx, req.Msg.GetCommunity(), req.Msg.GetId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	show, err := h.showURL(ctx, e)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	return connect.NewResponse(&eventsv1.GetEventResponse{Event: eventToProto(e, occs, show)}), nil
}

// Listing limits.
const (
	defaultListSize = 20
	maxListSize     = 100
	defaultWindow   = 90 * 24 * time.Hour
	maxWindow       = 2 * 366 * 24 * time.Hour
)

// ListEvents pages through the events with an occurrence in a window.
func (h *Handler) ListEvents(ctx context.Context, req *connect.Request[eventsv1.ListEventsRequest]) (*connect.Response[eventsv1.ListEventsResponse], error) {
	fail := func(err error) (*connect.Response[eventsv1.ListEventsResponse], error) {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return fail(err)
	}
	from, to := timeOf(req.Msg.GetFrom()), timeOf(req.Msg.GetTo())
	var errs validate.Errors
	offset := 0
	if token := req.Msg.GetPageToken(); token != "" {
		// The token carries the window of the first page, so "from now"
		// does not drift while paging.
		var tokFrom, tokTo time.Time
		tokFrom, tokTo, offset, err = decodeListToken(community, token)
		switch {
		case err != nil:
			errs = append(errs, validate.FieldErrors(err)...)
		case (!from.IsZero() && !from.Equal(tokFrom)) || (!to.IsZero() && !to.Equal(tokTo)):
			errs = append(errs, validate.Field("page_token", "belongs to another window"))
		default:
			from, to = tokFrom, tokTo
		}
	}
	if from.IsZero() {
		from = h.now().UTC()
	}
	if to.IsZero() {
		to = from.Add(defaultWindow)
	}
	switch {
	case !to.After(from):
		errs = append(errs, validate.Field("to", "must be after from"))
	case to.Sub(from) > maxWindow:
		errs = append(errs, validate.Field("to", "must be at most 2 years after from"))
	}
	size := int(req.Msg.GetPageSize())
	switch {
	case size == 0:
		size = defaultListSize
	case size < 0 || size > maxListSize:
		errs = append(errs, validate.Field("page_size", "must be between 1 and %d", maxListSize))
	}
	if err := errs.Err(); err != nil {
		return fail(err)
	}
	team := isTeam(ctx)
	listed, err := h.store.ListEvents(ctx, community, from, to, team, offset, size+1)
	if err != nil {
		return fail(err)
	}
	res := &eventsv1.ListEventsResponse{}
	if len(listed) > size {
		listed = listed[:size]
		res.NextPageToken = encodeListToken(community, from, to, offset+size)
	}
	for _, l := range listed {
		show, err := h.showURL(ctx, l.Event)
		if err != nil {
			return fail(err)
		}
		res.Events = append(res.Events, eventToProto(l.Event, l.Occurrences, show))
	}
	return connect.NewResponse(res), nil
}

func listScope(community string, from, to time.Time) string {
	return fmt.Sprintf("events:%s:%d:%d", community, from.UnixNano(), to.UnixNano())
}

func encodeListToken(community string, from, to time.Time, offset int) string {
	return store.EncodeOffset(listScope(community, from, to), offset)
}

// decodeListToken reads the window and offset a ListEvents token holds.
func decodeListToken(community, token string) (from, to time.Time, offset int, err error) {
	bad := validate.Field("page_token", "is not a token from a previous response")
	raw, derr := base64.RawURLEncoding.DecodeString(token)
	if derr != nil {
		return from, to, 0, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 4 || parts[0] != "events" || parts[1] != community {
		return from, to, 0, bad
	}
	f, ferr := strconv.ParseInt(parts[2], 10, 64)
	rest := strings.SplitN(parts[3], "|", 2)
	if ferr != nil || len(rest) != 2 {
		return from, to, 0, bad
	}
	tt, terr := strconv.ParseInt(rest[0], 10, 64)
	if terr != nil {
		return from, to, 0, bad
	}
	from, to = time.Unix(0, f).UTC(), time.Unix(0, tt).UTC()
	offset, err = store.DecodeOffset(listScope(community, from, to), token)
	return from, to, offset, err
}

// SuggestEvents ranks upcoming public events for a member.
func (h *Handler) SuggestEvents(ctx context.Context, req *connect.Request[eventsv1.SuggestEventsRequest]) (*connect.Response[eventsv1.SuggestEventsResponse], error) {
	m := req.Msg
	q, err := domain.NewSuggestQuery(m.GetCommunity(), m.GetInterests(), m.GetLocation().GetCity(), m.GetLocation().GetRegion(),
		m.GetLocation().GetCountryCode(), m.GetTimeZone(), int(m.GetLimit()))
	if err == nil {
		_, err = h.community(q.Community)
	}
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	now := h.now().UTC()
	cands, err := h.store.SuggestionCandidates(ctx, q.Community, now, 500)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	res := &eventsv1.SuggestEventsResponse{}
	for _, s := range domain.Rank(q, cands, now) {
		res.Suggestions = append(res.Suggestions, &eventsv1.Suggestion{
			Event: eventToProto(s.Event, []domain.Occurrence{s.Occurrence}, false), Score: s.Score, Reasons: s.Reasons,
		})
	}
	return connect.NewResponse(res), nil
}
