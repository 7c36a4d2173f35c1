package domain

import (
	"slices"
	"strings"
	"time"
)

// UpcomingEvent is one occurrence of a published event, as the events
// service announced it; digests list them.
type UpcomingEvent struct {
	EventID, OccurrenceID string
	Community             string
	Title                 string
	// Kind is online, offline or hybrid.
	Kind string
	// Public events are listed in digests; members-only ones are not.
	Public           bool
	Tags             []string
	TimeZone         string
	StartsAt, EndsAt time.Time
}

// Digest settings.
const (
	// DigestWindow is how far ahead a digest looks.
	DigestWindow = 7 * 24 * time.Hour
	// DigestMaxEvents bounds the events one digest lists.
	DigestMaxEvents = 10
	// ReasonNothingToSend suppresses a digest with no upcoming event.
	ReasonNothingToSend = "no upcoming events"
)

// DigestEvents picks the events of a digest for recipient r (nil when
// unknown) from upcoming: public events starting after now, those matching
// the member's interests first, then by start time; times are shown in the
// member's time zone. eventsURL, when set, is the events service's public
// address, for "add to calendar" links.
func DigestEvents(upcoming []UpcomingEvent, r *Recipient, now time.Time, eventsURL string) []EventData {
	loc := time.UTC
	var interests []string
	if r != nil {
		if l, err := time.LoadLocation(r.TimeZone); err == nil && r.TimeZone != "" {
			loc = l
		}
		interests = r.Interests
	}
	matches := func(e UpcomingEvent) bool {
		return slices.ContainsFunc(e.Tags, func(t string) bool { return slices.Contains(interests, t) })
	}
	var picked []UpcomingEvent
	for _, e := range upcoming {
		if e.Public && e.StartsAt.After(now) && e.StartsAt.Before(now.Add(DigestWindow)) {
			picked = append(picked, e)
		}
	}
	slices.SortStableFunc(picked, func(a, b UpcomingEvent) int {
		if ma, mb := matches(a), matches(b); ma != mb {
			if ma {
				return -1
			}
			return 1
		}
		return a.StartsAt.Compare(b.StartsAt)
	})
	out := make([]EventData, 0, min(len(picked), DigestMaxEvents))
	for _, e := range picked[:min(len(picked), DigestMaxEvents)] {
		d := EventData{Title: e.Title, StartsAt: e.StartsAt.In(loc).Format("Mon 2 Jan 15:04 MST")}
		if eventsURL != "" {
			d.URL = strings.TrimRight(eventsURL, "/") + "/calendar/" + e.Community + "/events/" + e.EventID + ".ics"
		}
		out = append(out, d)
	}
	return out
}
