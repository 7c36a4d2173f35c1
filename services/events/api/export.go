package api

import (
	"context"
	"encoding/json"
	"time"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
)

// memberExport is the JSON document ExportMemberData returns.
type memberExport struct {
	MemberID        string           `json:"member_id"`
	Community       string           `json:"community"`
	ExportedAt      time.Time        `json:"exported_at"`
	RSVPs           []exportRSVP     `json:"rsvps"`
	Feedback        []exportFeedback `json:"feedback"`
	HostedEvents    []exportEvent    `json:"hosted_events"`
	OrganisedEvents []exportEvent    `json:"organised_events"`
	CalendarFeed    bool             `json:"calendar_feed"`
}

type exportRSVP struct {
	EventID         string     `json:"event_id"`
	OccurrenceID    string     `json:"occurrence_id"`
	OccurrenceStart time.Time  `json:"occurrence_start"`
	Status          string     `json:"status"`
	AnsweredAt      time.Time  `json:"answered_at"`
	CheckedInAt     *time.Time `json:"checked_in_at,omitempty"`
	Series          bool       `json:"series"`
}

type exportFeedback struct {
	EventID      string    `json:"event_id"`
	OccurrenceID string    `json:"occurrence_id"`
	Rating       int       `json:"rating"`
	Comment      string    `json:"comment,omitempty"`
	GivenAt      time.Time `json:"given_at"`
}

type exportEvent struct {
	EventID string    `json:"event_id"`
	Title   string    `json:"title"`
	Status  string    `json:"status"`
	Start   time.Time `json:"start"`
}

// ExportMemberData returns what the events service holds about a member,
// as JSON; the reading is audited.
func (h *Handler) ExportMemberData(ctx context.Context, req *connect.Request[eventsv1.ExportMemberDataRequest]) (*connect.Response[eventsv1.ExportMemberDataResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	memberID, err := member(ctx, req.Msg.GetMemberId())
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	data, err := h.store.ExportMember(ctx, community, memberID)
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	doc := memberExport{MemberID: memberID, Community: community, ExportedAt: h.now().UTC(), CalendarFeed: data.CalendarFeed,
		RSVPs: []exportRSVP{}, Feedback: []exportFeedback{}, HostedEvents: []exportEvent{}, OrganisedEvents: []exportEvent{}}
	for _, r := range data.RSVPs {
		x := exportRSVP{EventID: r.EventID, OccurrenceID: r.OccurrenceID, OccurrenceStart: r.OccurrenceStart, Status: string(r.Status),
			AnsweredAt: r.AnsweredAt, Series: r.Series}
		if !r.CheckedInAt.IsZero() {
			at := r.CheckedInAt
			x.CheckedInAt = &at
		}
		doc.RSVPs = append(doc.RSVPs, x)
	}
	for _, fb := range data.Feedback {
		doc.Feedback = append(doc.Feedback, exportFeedback{EventID: fb.EventID, OccurrenceID: fb.OccurrenceID, Rating: fb.Rating, Comment: fb.Comment, GivenAt: fb.GivenAt})
	}
	for _, e := range data.Hosted {
		doc.HostedEvents = append(doc.HostedEvents, exportEvent{EventID: e.EventID, Title: e.Title, Status: string(e.Status), Start: e.Start})
	}
	for _, e := range data.Organised {
		doc.OrganisedEvents = append(doc.OrganisedEvents, exportEvent{EventID: e.EventID, Title: e.Title, Status: string(e.Status), Start: e.Start})
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, toConnect(ctx, h.logger, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "member data exported", "community", community, "member_id", memberID)
	return connect.NewResponse(&eventsv1.ExportMemberDataResponse{Json: raw}), nil
}
