package onboarding

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

// SuggestEvents asks the events service for upcoming events matching the
// member's interests, location and time zone, and e-mails them the ones it
// finds. It returns their ids; none means nothing fitted and nothing was
// sent.
func (a *Activities) SuggestEvents(ctx context.Context, in SuggestInput) (SuggestResult, error) {
	member, err := a.member(ctx, in.Community, in.MemberID)
	if err != nil {
		return SuggestResult{}, err
	}
	profile := member.GetProfile()
	interests := member.GetInterests()
	if len(interests) == 0 {
		interests = profile.GetInterests()
	}
	req := &eventsv1.SuggestEventsRequest{
		Community: in.Community, Interests: interests, TimeZone: profile.GetTimeZone(), Limit: int32(in.Limit),
	}
	if loc := profile.GetLocation(); loc != nil {
		req.Location = &eventsv1.Location{City: loc.GetCity(), Region: loc.GetRegion(), CountryCode: loc.GetCountryCode()}
	}
	res, err := a.Events.SuggestEvents(ctx, connect.NewRequest(req))
	if err != nil {
		return SuggestResult{}, classify(fmt.Errorf("suggest events: %w", err))
	}
	var events []*eventsv1.Event
	var ids []string
	for _, s := range res.Msg.GetSuggestions() {
		if e := s.GetEvent(); e.GetId() != "" {
			events = append(events, e)
			ids = append(ids, e.GetId())
		}
	}
	if len(events) == 0 {
		return SuggestResult{}, nil
	}
	to, err := a.recipient(ctx, in.MessageInput, member)
	if err != nil {
		return SuggestResult{}, err
	}
	template := in.Template
	if template == "" {
		template = TemplateEventSuggestion
	}
	if err := a.deliver(ctx, in.Community, to, in.WorkflowID+"/"+in.Key, template, map[string]string{"events": eventLines(member, events)}); err != nil {
		return SuggestResult{}, err
	}
	return SuggestResult{EventIDs: ids}, nil
}

// profileOf is a member's profile, never nil.
func profileOf(m *membersv1.Member) *membersv1.Profile {
	if p := m.GetProfile(); p != nil {
		return p
	}
	return &membersv1.Profile{}
}
