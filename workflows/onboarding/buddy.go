package onboarding

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
)

// maxBuddyCandidates bounds how many ambassadors one search asks for room.
const maxBuddyCandidates = 20

// AssignBuddy finds an active ambassador near the member or sharing their
// interests who has room, reserves the place, and introduces the two by
// e-mail. Closer matches come first: the same city, region, country, then
// shared interests. A retry finds the same ambassador, whose book already
// holds the member.
func (a *Activities) AssignBuddy(ctx context.Context, in BuddyInput) (BuddyResult, error) {
	if a.Buddies == nil {
		return BuddyResult{}, nil
	}
	member, err := a.member(ctx, in.Community, in.MemberID)
	if err != nil {
		return BuddyResult{}, err
	}
	candidates, err := a.buddyCandidates(ctx, member)
	if err != nil {
		return BuddyResult{}, err
	}
	for _, id := range candidates {
		ok, err := a.Buddies.Reserve(ctx, in.Community, id, member.GetId())
		if err != nil {
			return BuddyResult{}, fmt.Errorf("reserve a place with ambassador %s: %w", id, err)
		}
		if !ok {
			continue
		}
		if err := a.introduce(ctx, in, member, id); err != nil {
			return BuddyResult{}, err
		}
		return BuddyResult{AmbassadorID: id}, nil
	}
	return BuddyResult{}, nil
}

// introduce tells the member and their buddy about each other, by name.
func (a *Activities) introduce(ctx context.Context, in BuddyInput, member *membersv1.Member, ambassadorID string) error {
	ambassador, err := a.member(ctx, in.Community, ambassadorID)
	if err != nil {
		return err
	}
	toMember, toBuddy := in.Template, in.BuddyTemplate
	if toMember == "" {
		toMember = TemplateBuddyMember
	}
	if toBuddy == "" {
		toBuddy = TemplateBuddyAmbassador
	}
	if err := a.deliver(ctx, in.Community, member, in.WorkflowID+"/"+in.keyOr("buddy")+"-member", toMember,
		map[string]string{"buddy_name": ambassador.GetDisplayName()}); err != nil {
		return err
	}
	return a.deliver(ctx, in.Community, ambassador, in.WorkflowID+"/"+in.keyOr("buddy")+"-ambassador", toBuddy,
		map[string]string{"member_name": member.GetDisplayName()})
}

// buddyCandidates lists active ambassadors matching the member, closest
// first, without the member and without repeats.
func (a *Activities) buddyCandidates(ctx context.Context, member *membersv1.Member) ([]string, error) {
	loc := profileOf(member).GetLocation()
	interests := member.GetInterests()
	if len(interests) == 0 {
		interests = profileOf(member).GetInterests()
	}
	var filters []*membersv1.SegmentFilter
	base := func() *membersv1.SegmentFilter {
		return &membersv1.SegmentFilter{Roles: []string{"ambassador"}, Statuses: []string{"active"}}
	}
	if c := loc.GetCity(); c != "" {
		f := base()
		f.Cities = []string{c}
		if cc := loc.GetCountryCode(); cc != "" {
			f.CountryCodes = []string{cc}
		}
		filters = append(filters, f)
	}
	if r := loc.GetRegion(); r != "" {
		f := base()
		f.Regions = []string{r}
		if cc := loc.GetCountryCode(); cc != "" {
			f.CountryCodes = []string{cc}
		}
		filters = append(filters, f)
	}
	if cc := loc.GetCountryCode(); cc != "" {
		f := base()
		f.CountryCodes = []string{cc}
		filters = append(filters, f)
	}
	if len(interests) > 0 {
		f := base()
		f.Interests = interests
		filters = append(filters, f)
	}
	seen := map[string]bool{member.GetId(): true}
	var out []string
	for _, f := range filters {
		res, err := a.Segments.ListSegmentMembers(ctx, connect.NewRequest(&membersv1.ListSegmentMembersRequest{
			Community: member.GetCommunity(), Filter: f, PageSize: maxBuddyCandidates,
		}))
		if err != nil {
			return nil, classify(fmt.Errorf("list ambassadors: %w", err))
		}
		for _, m := range res.Msg.GetMembers() {
			if !seen[m.GetId()] && len(out) < maxBuddyCandidates {
				seen[m.GetId()] = true
				out = append(out, m.GetId())
			}
		}
	}
	return out, nil
}

// ReleaseBuddy frees the member's place with their buddy.
func (a *Activities) ReleaseBuddy(ctx context.Context, in BuddyInput) error {
	if a.Buddies == nil || in.AmbassadorID == "" {
		return nil
	}
	if err := a.Buddies.Release(ctx, in.Community, in.AmbassadorID, in.MemberID); err != nil {
		return fmt.Errorf("release buddy place with %s: %w", in.AmbassadorID, err)
	}
	return nil
}
