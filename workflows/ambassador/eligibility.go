package ambassador

import (
	"context"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// Eligibility is a nomination checked against the criteria. Reasons name
// levels and counts, never personal data.
type Eligibility struct {
	Eligible bool
	Level    string
	// Recent is how many activities fell within the criteria's window.
	Recent  int
	Reasons []string
}

// MembersAPI is what the eligibility check reads.
type MembersAPI interface {
	GetMember(context.Context, *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error)
}

// EngagementAPI is what the eligibility check and the quotas read.
type EngagementAPI interface {
	GetEngagement(context.Context, *connect.Request[membersv1.GetEngagementRequest]) (*connect.Response[membersv1.GetEngagementResponse], error)
	GetCommunitySettings(context.Context, *connect.Request[membersv1.GetCommunitySettingsRequest]) (*connect.Response[membersv1.GetCommunitySettingsResponse], error)
}

var (
	_ MembersAPI    = membersv1connect.MembersServiceClient(nil)
	_ EngagementAPI = membersv1connect.EngagementServiceClient(nil)
)

// Assess checks a member against the criteria at now: an active member,
// not an ambassador yet, at MinLevel or above, with MinActivities within
// ActiveWithin. The journeys API calls it before nominating, the workflow
// when the nomination starts. Connect errors are returned as they are.
func Assess(ctx context.Context, members MembersAPI, engagement EngagementAPI, community, memberID string, c Criteria, now time.Time) (Eligibility, error) {
	m, err := members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: community, Id: memberID}))
	if err != nil {
		return Eligibility{}, fmt.Errorf("look up member %s: %w", memberID, err)
	}
	var e Eligibility
	member := m.Msg.GetMember()
	if member.GetStatus() != membersv1.MemberStatus_MEMBER_STATUS_ACTIVE {
		e.Reasons = append(e.Reasons, "the member is not active")
	}
	if slices.ContainsFunc(member.GetRoles(), func(r *membersv1.RoleAssignment) bool { return r.GetRole() == "ambassador" }) {
		e.Reasons = append(e.Reasons, "the member is an ambassador already")
	}
	eng, err := engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{Community: community, MemberId: memberID}))
	if err != nil {
		return Eligibility{}, fmt.Errorf("read engagement of %s: %w", memberID, err)
	}
	e.Level = eng.Msg.GetLevel()
	if c.MinLevel != "" {
		settings, err := engagement.GetCommunitySettings(ctx, connect.NewRequest(&membersv1.GetCommunitySettingsRequest{Community: community}))
		if err != nil {
			return Eligibility{}, fmt.Errorf("read community settings: %w", err)
		}
		rank := func(level string) int {
			return slices.IndexFunc(settings.Msg.GetSettings().GetLevels(), func(l *membersv1.LevelThreshold) bool { return l.GetName() == level })
		}
		switch min := rank(c.MinLevel); {
		case min < 0:
			e.Reasons = append(e.Reasons, fmt.Sprintf("the programme asks for level %q, which the community does not have", c.MinLevel))
		case rank(e.Level) < min:
			e.Reasons = append(e.Reasons, fmt.Sprintf("level %q is below %q", e.Level, c.MinLevel))
		}
	}
	since := now.Add(-c.ActiveWithin.Std())
	for _, a := range eng.Msg.GetRecent() {
		if !a.GetOccurredAt().AsTime().Before(since) {
			e.Recent++
		}
	}
	if e.Recent < c.MinActivities {
		e.Reasons = append(e.Reasons, fmt.Sprintf("%d activities in the last %v; %d needed", e.Recent, c.ActiveWithin.Std(), c.MinActivities))
	}
	e.Eligible = len(e.Reasons) == 0
	return e, nil
}
