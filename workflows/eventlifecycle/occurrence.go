package eventlifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// errGone means the event or the occurrence no longer exists.
var errGone = errors.New("event or occurrence gone")

// occurrenceInfo is what messages say about an occurrence.
type occurrenceInfo struct {
	eventID, occurrenceID string
	title                 string
	start, end            time.Time
	zone                  *time.Location
	venue, onlineURL      string
	// cancelled: the event or the occurrence; occurrenceCancelled: the
	// occurrence alone.
	cancelled, occurrenceCancelled bool
	reason                         string
}

// occurrence loads an occurrence with its event's details; errGone when
// either no longer exists.
func (a *Activities) occurrence(ctx context.Context, community, eventID, occurrenceID string) (occurrenceInfo, error) {
	res, err := a.Events.GetEvent(ctx, connect.NewRequest(&eventsv1.GetEventRequest{Community: community, Id: eventID}))
	if connect.CodeOf(err) == connect.CodeNotFound {
		return occurrenceInfo{}, errGone
	}
	if err != nil {
		return occurrenceInfo{}, activityerr.Classify(fmt.Errorf("load event: %w", err))
	}
	e := res.Msg.GetEvent()
	for _, o := range e.GetOccurrences() {
		if o.GetId() != occurrenceID {
			continue
		}
		zone, err := time.LoadLocation(e.GetSpec().GetTimeZone())
		if err != nil {
			zone = time.UTC
		}
		info := occurrenceInfo{
			eventID: e.GetId(), occurrenceID: o.GetId(),
			title: first(o.GetTitle(), e.GetSpec().GetTitle()),
			start: o.GetStartTime().AsTime(), end: o.GetEndTime().AsTime(), zone: zone,
			venue:               venueText(o.GetVenue(), e.GetSpec().GetVenue()),
			onlineURL:           first(o.GetOnlineUrl(), e.GetSpec().GetOnlineUrl()),
			occurrenceCancelled: o.GetStatus() == eventsv1.OccurrenceStatus_OCCURRENCE_STATUS_CANCELLED,
			reason:              e.GetCancelReason(),
		}
		info.cancelled = info.occurrenceCancelled || e.GetStatus() == eventsv1.EventStatus_EVENT_STATUS_CANCELLED
		return info, nil
	}
	return occurrenceInfo{}, errGone
}

// vars are the template variables of a message about the occurrence.
func (o occurrenceInfo) vars() map[string]string {
	v := map[string]string{
		"event_id": o.eventID, "occurrence_id": o.occurrenceID, "title": o.title,
		"starts_at": o.local(o.start), "ends_at": o.local(o.end),
	}
	for _, opt := range []struct{ name, value string }{{"venue", o.venue}, {"online_url", o.onlineURL}, {"reason", o.reason}} {
		if opt.value != "" {
			v[opt.name] = opt.value
		}
	}
	return v
}

// local formats t in the event's time zone.
func (o occurrenceInfo) local(t time.Time) string {
	return t.In(o.zone).Format("Monday 2 January 2006, 15:04 MST")
}

func venueText(vs ...*eventsv1.Venue) string {
	for _, v := range vs {
		var parts []string
		for _, p := range []string{v.GetName(), v.GetStreet(), strings.TrimSpace(v.GetPostalCode() + " " + v.GetCity())} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, ", ")
		}
	}
	return ""
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// humanDuration reads a reminder offset the way a message says it: "24
// hours", "1 hour", "30 minutes".
func humanDuration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return unit(int64(d/time.Second), "second")
}

// shortDuration names an offset in a key: "24h", "90m", "5s".
func shortDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
