package onboarding

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/activity"
	"golang.org/x/text/language"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

// NextTimeOfDay says when in.At ("HH:MM") next comes, at or after
// in.After, in the member's time zone (UTC when they gave none or an
// unknown one).
func (a *Activities) NextTimeOfDay(ctx context.Context, in TimeOfDayInput) (time.Time, error) {
	member, err := a.member(ctx, in.Community, in.MemberID)
	if err != nil {
		return time.Time{}, err
	}
	loc, err := time.LoadLocation(profileOf(member).GetTimeZone())
	if err != nil {
		loc = time.UTC
	}
	return nextTimeOfDay(in.After, in.At, loc)
}

// nextTimeOfDay is the first moment at or after after when the clock in
// loc shows at ("HH:MM").
func nextTimeOfDay(after time.Time, at string, loc *time.Location) (time.Time, error) {
	clock, err := time.Parse("15:04", at)
	if err != nil {
		return time.Time{}, fmt.Errorf("time of day %q: %w", at, err)
	}
	local := after.In(loc)
	for days := 0; days < 3; days++ {
		d := local.AddDate(0, 0, days)
		t := time.Date(d.Year(), d.Month(), d.Day(), clock.Hour(), clock.Minute(), 0, 0, loc)
		if !t.Before(after) {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time of day %q never comes after %v", at, after)
}

// ConditionResult is a branch's answer; Why says why it could not be
// asked (a segment that is gone), which the journey notes.
type ConditionResult struct {
	Holds bool
	Why   string `json:",omitempty"`
}

// EvaluateCondition asks whether a member attribute holds one of the
// condition's values, or whether the member is in a saved segment. Only
// the answer goes into the journey's history, never the member's data.
func (a *Activities) EvaluateCondition(ctx context.Context, in ConditionInput) (ConditionResult, error) {
	m, err := a.member(ctx, in.Community, in.MemberID)
	if err != nil {
		return ConditionResult{}, err
	}
	c := in.Condition
	if c.Segment != "" {
		return a.inSegment(ctx, m, c.Segment)
	}
	p := profileOf(m)
	loc := p.GetLocation()
	equal := func(v string) bool {
		return v != "" && slices.ContainsFunc(c.In, func(w string) bool { return strings.EqualFold(strings.TrimSpace(w), v) })
	}
	anyOf := func(vs []string) bool { return slices.ContainsFunc(vs, equal) }
	switch c.Attribute {
	case AttrLevel:
		return ConditionResult{Holds: equal(m.GetLevel())}, nil
	case AttrLocale:
		return ConditionResult{Holds: localeMatches(p.GetLocale(), c.In)}, nil
	case AttrCountry:
		return ConditionResult{Holds: equal(loc.GetCountryCode())}, nil
	case AttrRegion:
		return ConditionResult{Holds: equal(loc.GetRegion())}, nil
	case AttrCity:
		return ConditionResult{Holds: equal(loc.GetCity())}, nil
	case AttrInterest:
		return ConditionResult{Holds: anyOf(m.GetInterests()) || anyOf(p.GetInterests())}, nil
	case AttrRole:
		var roles []string
		for _, r := range m.GetRoles() {
			roles = append(roles, r.GetRole())
		}
		return ConditionResult{Holds: anyOf(roles)}, nil
	case AttrSource:
		kind := strings.ToLower(strings.TrimPrefix(m.GetSource().GetKind().String(), "SOURCE_KIND_"))
		return ConditionResult{Holds: equal(kind)}, nil
	case AttrEmailVerified:
		return ConditionResult{Holds: m.GetEmailVerified()}, nil
	}
	return ConditionResult{Why: fmt.Sprintf("%q is not a member attribute", c.Attribute)}, nil
}

// localeMatches reports whether locale (such as "de-AT") is one of want,
// or its language is ("de").
func localeMatches(locale string, want []string) bool {
	tag, err := language.Parse(locale)
	if err != nil || locale == "" {
		return false
	}
	base, _ := tag.Base()
	for _, w := range want {
		if strings.EqualFold(w, tag.String()) || strings.EqualFold(w, base.String()) {
			return true
		}
	}
	return false
}

// maxSegmentPages bounds the members read to find one in a segment.
const maxSegmentPages = 40

// inSegment reports whether m is in the saved segment: the members who
// match its filter and joined at the very moment m joined — a handful —
// are listed and m looked for among them, so a segment of any size costs
// one request or few.
func (a *Activities) inSegment(ctx context.Context, m *membersv1.Member, segmentID string) (ConditionResult, error) {
	res, err := a.Segments.ListSegments(ctx, connect.NewRequest(&membersv1.ListSegmentsRequest{Community: m.GetCommunity()}))
	if err != nil {
		return ConditionResult{}, classify(fmt.Errorf("list segments: %w", err))
	}
	var filter *membersv1.SegmentFilter
	for _, s := range res.Msg.GetSegments() {
		if s.GetId() == segmentID {
			filter = proto.Clone(s.GetFilter()).(*membersv1.SegmentFilter)
		}
	}
	if filter == nil {
		return ConditionResult{Why: "segment " + segmentID + " no longer exists"}, nil
	}
	joined := m.GetJoinedAt().AsTime()
	after, before := joined, joined.Add(time.Microsecond)
	if f := filter.GetJoinedAfter(); f != nil && f.AsTime().After(after) {
		after = f.AsTime()
	}
	if f := filter.GetJoinedBefore(); f != nil && f.AsTime().Before(before) {
		before = f.AsTime()
	}
	if !after.Before(before) {
		return ConditionResult{}, nil
	}
	filter.JoinedAfter, filter.JoinedBefore = timestamppb.New(after), timestamppb.New(before)
	token := ""
	for range maxSegmentPages {
		page, err := a.Segments.ListSegmentMembers(ctx, connect.NewRequest(&membersv1.ListSegmentMembersRequest{
			Community: m.GetCommunity(), Filter: filter, PageSize: 500, PageToken: token,
		}))
		if err != nil {
			return ConditionResult{}, classify(fmt.Errorf("list members of segment %s: %w", segmentID, err))
		}
		if slices.ContainsFunc(page.Msg.GetMembers(), func(s *membersv1.SegmentMember) bool { return s.GetId() == m.GetId() }) {
			return ConditionResult{Holds: true}, nil
		}
		if token = page.Msg.GetNextPageToken(); token == "" {
			return ConditionResult{}, nil
		}
		activity.RecordHeartbeat(ctx, token)
	}
	return ConditionResult{Why: "too many members joined with this one to find them in segment " + segmentID}, nil
}

// RecordStepActivity records the activity a journey step stands for, once
// per journey and step.
func (a *Activities) RecordStepActivity(ctx context.Context, in StepActivityInput) error {
	_, err := a.Engagement.RecordActivity(ctx, connect.NewRequest(&membersv1.RecordActivityRequest{
		Community: in.Community, MemberId: in.MemberID, Type: in.Type,
		OccurredAt: timestamppb.New(in.At), SourceEventId: in.SourceEventID,
	}))
	if err != nil {
		return classify(fmt.Errorf("record %s activity: %w", in.Type, err))
	}
	return nil
}

// maxOrganisers bounds who one notice goes to.
const maxOrganisers = 20

// NotifyOrganisers tells organisers — those named, or the community's
// active organisers — about the member, once each per step. In a test run
// only the organiser running it is told.
func (a *Activities) NotifyOrganisers(ctx context.Context, in NoticeInput) (NoticeResult, error) {
	member, err := a.member(ctx, in.Community, in.MemberID)
	if err != nil {
		return NoticeResult{}, err
	}
	to := in.To
	switch {
	case in.RecipientID != "":
		to = []string{in.RecipientID}
	case len(to) == 0:
		res, err := a.Segments.ListSegmentMembers(ctx, connect.NewRequest(&membersv1.ListSegmentMembersRequest{Community: in.Community,
			Filter: &membersv1.SegmentFilter{Roles: []string{"organiser"}, Statuses: []string{"active"}}, PageSize: maxOrganisers}))
		if err != nil {
			return NoticeResult{}, classify(fmt.Errorf("list organisers: %w", err))
		}
		for _, o := range res.Msg.GetMembers() {
			to = append(to, o.GetId())
		}
	}
	step, _, _ := strings.Cut(in.Key, "/")
	vars := map[string]string{"member_name": member.GetDisplayName(), "member_id": member.GetId(), "step": step}
	var res NoticeResult
	for _, id := range to {
		organiser, err := a.member(ctx, in.Community, id)
		if isType(err, ErrTypeMemberNotFound) {
			continue // an organiser who left is not told
		}
		if err != nil {
			return NoticeResult{}, err
		}
		err = a.deliver(ctx, in.Community, organiser, in.WorkflowID+"/"+in.Key+"/"+id, in.Template, vars)
		switch {
		case isType(err, ErrTypeMessageRefused):
			continue
		case err != nil:
			return NoticeResult{}, err
		}
		res.Sent++
	}
	return res, nil
}
