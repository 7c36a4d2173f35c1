package communications

import (
	"github.com/kinshiphq/kinship/internal/inbox"
	"github.com/kinshiphq/kinship/internal/service"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// feeds are the events the communications service consumes: members.v1
// into the recipients projection, and events.v1 into the list of
// upcoming events the digests show.
func feeds(st *store.Store, in *inbox.Inbox) []service.Feed {
	return []service.Feed{
		{Name: "communications: recipients projection", Group: events.ProjectionGroup,
			Topics: func(c string) []string { return []string{memberevents.Topic(c)} }, Handle: events.NewProjection(st, in).Handle},
		{Name: "communications: events feed", Group: events.EventsGroup,
			Topics: func(c string) []string { return []string{events.EventsTopic(c)} }, Handle: events.NewEventsFeed(st, in).Handle},
	}
}
