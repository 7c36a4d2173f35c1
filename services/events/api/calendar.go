package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/services/events/domain"
	"github.com/kinshiphq/kinship/services/events/ical"
	"github.com/kinshiphq/kinship/services/events/store"
)

// Feed paths, mounted beside the Connect API.
const (
	PublicFeedPattern = "GET /calendar/{file}"
	MemberFeedPattern = "GET /calendar/member/{file}"
	EventICSPattern   = "GET /calendar/{community}/events/{file}"
	memberFeedPrefix  = "/calendar/member/"
)

// How far back calendars reach, and how much they hold.
const (
	feedHistory   = 30 * 24 * time.Hour
	feedMaxEvents = 500
)

// GetFeedToken returns a member's private feed address.
func (h *Handler) GetFeedToken(ctx context.Context, req *connect.Request[eventsv1.GetFeedTokenRequest]) (*connect.Response[eventsv1.GetFeedTokenResponse], error) {
	token, err := h.feedToken(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), false)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	path := memberFeedPrefix + token + ".ics"
	return connect.NewResponse(&eventsv1.GetFeedTokenResponse{Token: token, Path: path, Url: h.feedURL(path)}), nil
}

// RotateFeedToken replaces a member's private feed address.
func (h *Handler) RotateFeedToken(ctx context.Context, req *connect.Request[eventsv1.RotateFeedTokenRequest]) (*connect.Response[eventsv1.RotateFeedTokenResponse], error) {
	token, err := h.feedToken(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), true)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	path := memberFeedPrefix + token + ".ics"
	return connect.NewResponse(&eventsv1.RotateFeedTokenResponse{Token: token, Path: path, Url: h.feedURL(path)}), nil
}

func (h *Handler) feedToken(ctx context.Context, rawCommunity, rawMember string, rotate bool) (string, error) {
	community, err := h.community(rawCommunity)
	if err != nil {
		return "", err
	}
	memberID, err := member(ctx, rawMember)
	if err != nil {
		return "", err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	token, err := h.store.FeedToken(ctx, community, memberID, base64.RawURLEncoding.EncodeToString(b[:]), rotate)
	if err == nil && rotate {
		h.logger.InfoContext(ctx, "calendar feed address rotated", "community", community, "member_id", memberID)
	}
	return token, err
}

func (h *Handler) feedURL(path string) string {
	if h.publicURL == "" {
		return ""
	}
	return strings.TrimSuffix(h.publicURL, "/") + path
}

// ExportEventICS returns one event as an iCalendar file.
func (h *Handler) ExportEventICS(ctx context.Context, req *connect.Request[eventsv1.ExportEventICSRequest]) (*connect.Response[eventsv1.ExportEventICSResponse], error) {
	e, occs, err := h.visible(ctx, req.Msg.GetCommunity(), req.Msg.GetId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	show, err := h.showURL(ctx, e)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	cal := ical.Calendar{Method: "PUBLISH", Stamp: e.UpdatedAt, Events: SeriesEntries(e, occs, show)}
	return connect.NewResponse(&eventsv1.ExportEventICSResponse{ContentType: "text/calendar; charset=utf-8",
		Filename: "event-" + e.ID + ".ics", Ics: ical.Render(cal)}), nil
}

// UID is the stable iCalendar UID of an event (a series and its changed
// occurrences share it).
func UID(e domain.Event) string { return e.ID + "@" + e.Community + ".events.kinship" }

// occurrenceUID identifies one occurrence in a member's calendar.
func occurrenceUID(o domain.Occurrence) string {
	return o.ID + "@" + o.Community + ".occurrences.kinship"
}

func location(kind domain.Kind, v domain.Venue, url string, showURL bool) string {
	var parts []string
	for _, p := range []string{v.Name, v.Street, strings.TrimSpace(v.PostalCode + " " + v.City), v.Region, v.CountryCode} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	switch {
	case kind == domain.KindOnline && showURL:
		return url
	case kind == domain.KindOnline:
		return "Online"
	case kind == domain.KindHybrid:
		return strings.Join(parts, ", ") + " (and online)"
	}
	return strings.Join(parts, ", ")
}

func description(text, url string, showURL bool) string {
	if showURL && url != "" {
		if text != "" {
			return text + "\n\nJoin online: " + url
		}
		return "Join online: " + url
	}
	return text
}

// SeriesEntries renders e as a calendar shows it to everyone: one
// component for a single event, or a recurring master (RRULE, EXDATE) and
// one component per changed or cancelled occurrence (RECURRENCE-ID).
func SeriesEntries(e domain.Event, occs []domain.Occurrence, showURL bool) []ical.Event {
	status := ical.StatusConfirmed
	if e.Status == domain.StatusCancelled {
		status = ical.StatusCancelled
	}
	url := ""
	if showURL {
		url = e.OnlineURL
	}
	master := ical.Event{
		UID: UID(e), Sequence: e.Sequence, Zone: e.Location(), Start: e.Start, End: e.End, Created: e.CreatedAt,
		LastModified: e.UpdatedAt, Summary: e.Title, Description: description(e.Description, e.OnlineURL, showURL),
		Location: location(e.Kind, e.Venue, e.OnlineURL, showURL), URL: url, Status: status, Categories: e.Tags,
	}
	if !e.Recurring() {
		if len(occs) == 1 && occs[0].Status == domain.OccurrenceCancelled {
			master.Status = ical.StatusCancelled
		}
		return []ical.Event{master}
	}
	master.RRule, master.ExDates = e.RRule, e.ExDates
	_, starts, err := domain.Expand(e.RRule, e.ExDates, e.Start, e.Location())
	inRule := map[int64]bool{}
	if err == nil {
		for _, s := range starts {
			inRule[s.Unix()] = true
		}
		master.Through = starts[len(starts)-1].Add(e.Duration())
	}
	out := []ical.Event{master}
	for _, o := range occs {
		if o.EventID != e.ID || !o.Overridden() || !inRule[o.RecurrenceID.Unix()] {
			continue
		}
		title, desc, venue, oURL := o.Effective(e)
		st := status
		if o.Status == domain.OccurrenceCancelled {
			st = ical.StatusCancelled
		}
		entry := ical.Event{
			UID: UID(e), Sequence: e.Sequence + o.Sequence, Zone: e.Location(), Start: o.Start, End: o.End, RecurrenceID: o.RecurrenceID,
			Created: e.CreatedAt, LastModified: o.UpdatedAt, Summary: title, Description: description(desc, oURL, showURL),
			Location: location(e.Kind, venue, oURL, showURL), Status: st, Categories: e.Tags,
		}
		if showURL {
			entry.URL = oURL
		}
		out = append(out, entry)
	}
	return out
}

// memberEntries renders the occurrences a member answered for, each on its
// own, with the online URL where they hold a seat.
func memberEntries(entries []store.CalendarEntry) []ical.Event {
	var out []ical.Event
	for _, ce := range entries {
		e := ce.Event
		for _, o := range ce.Occurrences {
			r := ce.RSVPs[o.ID]
			seat := r.Status.HoldsSeat() && r.Status != domain.RSVPOffered
			title, desc, venue, url := o.Effective(e)
			status := ical.StatusConfirmed
			switch {
			case e.Status == domain.StatusCancelled || o.Status == domain.OccurrenceCancelled:
				status = ical.StatusCancelled
			case r.Status == domain.RSVPWaitlisted:
				status, title = ical.StatusTentative, title+" (waitlist)"
			case r.Status == domain.RSVPOffered:
				status, title = ical.StatusTentative, title+" (seat offered: accept it in time)"
			}
			entry := ical.Event{
				UID: occurrenceUID(o), Sequence: e.Sequence + o.Sequence, Zone: e.Location(), Start: o.Start, End: o.End,
				Created: e.CreatedAt, LastModified: latest(e.UpdatedAt, o.UpdatedAt, r.UpdatedAt), Summary: title,
				Description: description(desc, url, seat), Location: location(e.Kind, venue, url, seat), Status: status,
				Categories: e.Tags, Transparent: !seat,
			}
			if seat {
				entry.URL = url
			}
			out = append(out, entry)
		}
	}
	return out
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

// Feeds serves the calendar feeds over plain HTTP GET.
type Feeds struct {
	h      *Handler
	tracer trace.Tracer
}

// NewFeeds returns the feed handlers of h.
func NewFeeds(h *Handler, tp trace.TracerProvider) *Feeds {
	return &Feeds{h: h, tracer: tp.Tracer("github.com/kinshiphq/kinship/services/events/api")}
}

// Public serves /calendar/<community>.ics: the community's public events.
func (f *Feeds) Public() http.Handler {
	return f.serve(PublicFeedPattern, "public", func(r *http.Request) (ical.Calendar, error) {
		slug, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
		if !ok {
			return ical.Calendar{}, domain.ErrEventNotFound
		}
		community, err := f.h.community(slug)
		if err != nil {
			return ical.Calendar{}, domain.ErrEventNotFound
		}
		now := f.h.now().UTC()
		entries, err := f.h.store.PublicCalendar(r.Context(), community, now.Add(-feedHistory), feedMaxEvents)
		if err != nil {
			return ical.Calendar{}, err
		}
		cal := ical.Calendar{Name: community + " events", Method: "PUBLISH"}
		for _, ce := range entries {
			cal.Events = append(cal.Events, SeriesEntries(ce.Event, ce.Occurrences, false)...)
			cal.Stamp = latest(cal.Stamp, ce.Event.UpdatedAt)
		}
		return cal, nil
	})
}

// Member serves /calendar/member/<token>.ics: one member's events.
func (f *Feeds) Member() http.Handler {
	return f.serve(MemberFeedPattern, "private", func(r *http.Request) (ical.Calendar, error) {
		token, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
		if !ok || len(token) < 32 || len(token) > 64 {
			return ical.Calendar{}, domain.ErrFeedTokenNotFound
		}
		community, memberID, err := f.h.store.FeedOwner(r.Context(), token)
		if err != nil {
			return ical.Calendar{}, err
		}
		if _, err := f.h.community(community); err != nil {
			return ical.Calendar{}, domain.ErrFeedTokenNotFound // a community no longer served here
		}
		now := f.h.now().UTC()
		entries, err := f.h.store.MemberCalendar(r.Context(), community, memberID, now.Add(-feedHistory), feedMaxEvents)
		if err != nil {
			return ical.Calendar{}, err
		}
		cal := ical.Calendar{Name: "My " + community + " events", Method: "PUBLISH", Events: memberEntries(entries)}
		for _, e := range cal.Events {
			cal.Stamp = latest(cal.Stamp, e.LastModified)
		}
		return cal, nil
	})
}

// Event serves /calendar/<community>/events/<id>.ics: one public event.
func (f *Feeds) Event() http.Handler {
	return f.serve(EventICSPattern, "public", func(r *http.Request) (ical.Calendar, error) {
		eventID, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
		community, err := f.h.community(r.PathValue("community"))
		if !ok || err != nil {
			return ical.Calendar{}, domain.ErrEventNotFound
		}
		e, occs, err := f.h.store.GetEvent(r.Context(), community, eventID)
		if err != nil {
			return ical.Calendar{}, err
		}
		if e.Visibility != domain.VisibilityPublic || e.Status == domain.StatusDraft {
			return ical.Calendar{}, domain.ErrEventNotFound
		}
		return ical.Calendar{Method: "PUBLISH", Stamp: e.UpdatedAt, Events: SeriesEntries(e, occs, false)}, nil
	})
}

// serve renders a calendar with an ETag; unknown feeds are 404. The path
// (which may hold a secret token) is never logged or traced.
func (f *Feeds) serve(route, cache string, build func(r *http.Request) (ical.Calendar, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := f.tracer.Start(r.Context(), route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route)))
		defer span.End()
		cal, err := build(r.WithContext(ctx))
		switch {
		case errors.Is(err, domain.ErrEventNotFound), errors.Is(err, domain.ErrFeedTokenNotFound), errors.Is(err, domain.ErrUnknownCommunity):
			span.SetAttributes(attribute.Int("http.response.status_code", http.StatusNotFound))
			http.Error(w, "no such calendar", http.StatusNotFound)
			return
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, "calendar failed")
			f.h.logger.ErrorContext(ctx, "calendar failed", slog.String("route", route), slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if cal.Stamp.IsZero() {
			cal.Stamp = time.Unix(0, 0)
		}
		body := ical.Render(cal)
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", fmt.Sprintf("%s, max-age=300", cache))
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
		w.Header().Set("Content-Disposition", `inline; filename="calendar.ics"`)
		span.SetAttributes(attribute.Int("http.response.status_code", http.StatusOK))
		_, _ = w.Write(body)
	})
}
