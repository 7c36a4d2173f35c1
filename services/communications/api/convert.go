package api

import (
	"time"

	memberdomain "github.com/kinshiphq/kinship/services/members/domain"

	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

func statusToProto(s domain.Status) communicationsv1.MessageStatus {
	switch s {
	case domain.StatusPending:
		return communicationsv1.MessageStatus_MESSAGE_STATUS_PENDING
	case domain.StatusSent:
		return communicationsv1.MessageStatus_MESSAGE_STATUS_SENT
	case domain.StatusFailed:
		return communicationsv1.MessageStatus_MESSAGE_STATUS_FAILED
	case domain.StatusBounced:
		return communicationsv1.MessageStatus_MESSAGE_STATUS_BOUNCED
	case domain.StatusSuppressed:
		return communicationsv1.MessageStatus_MESSAGE_STATUS_SUPPRESSED
	case domain.StatusInDoubt:
		return communicationsv1.MessageStatus_MESSAGE_STATUS_IN_DOUBT
	}
	return communicationsv1.MessageStatus_MESSAGE_STATUS_UNSPECIFIED
}

func kindToProto(k domain.Kind) communicationsv1.MessageKind {
	switch k {
	case domain.KindTransactional:
		return communicationsv1.MessageKind_MESSAGE_KIND_TRANSACTIONAL
	case domain.KindAnnouncement:
		return communicationsv1.MessageKind_MESSAGE_KIND_ANNOUNCEMENT
	case domain.KindDigest:
		return communicationsv1.MessageKind_MESSAGE_KIND_DIGEST
	}
	return communicationsv1.MessageKind_MESSAGE_KIND_UNSPECIFIED
}

// filterFromProto validates a segment filter by the members service's
// rules (the same message means the same everywhere) and converts it.
func filterFromProto(f *membersv1.SegmentFilter) (domain.Filter, error) {
	ts := func(t *timestamppb.Timestamp) time.Time {
		if t == nil {
			return time.Time{}
		}
		return t.AsTime()
	}
	in := memberdomain.FilterInput{Filter: memberdomain.Filter{
		Interests: f.GetInterests(), Skills: f.GetSkills(), Goals: f.GetGoals(), Roles: f.GetRoles(),
		CountryCodes: f.GetCountryCodes(), Regions: f.GetRegions(), Cities: f.GetCities(), Levels: f.GetLevels(),
		Consents: f.GetConsents(), JoinedAfter: ts(f.GetJoinedAfter()), JoinedBefore: ts(f.GetJoinedBefore()),
		LastActiveAfter: ts(f.GetLastActiveAfter()), LastActiveBefore: ts(f.GetLastActiveBefore()),
	}, StatusNames: f.GetStatuses()}
	valid, err := in.Validate()
	if err != nil {
		return domain.Filter{}, err
	}
	return domain.Filter{
		Interests: valid.Interests, Skills: valid.Skills, Goals: valid.Goals, Roles: valid.Roles,
		CountryCodes: valid.CountryCodes, Regions: valid.Regions, Cities: valid.Cities, Levels: valid.Levels,
		Statuses: f.GetStatuses(), Consents: valid.Consents,
		JoinedAfter: valid.JoinedAfter, JoinedBefore: valid.JoinedBefore,
		LastActiveAfter: valid.LastActiveAfter, LastActiveBefore: valid.LastActiveBefore,
	}, nil
}

func filterToProto(f domain.Filter) *membersv1.SegmentFilter {
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	return &membersv1.SegmentFilter{
		Interests: f.Interests, Skills: f.Skills, Goals: f.Goals, Roles: f.Roles, CountryCodes: f.CountryCodes,
		Regions: f.Regions, Cities: f.Cities, Levels: f.Levels, Statuses: f.Statuses, Consents: f.Consents,
		JoinedAfter: ts(f.JoinedAfter), JoinedBefore: ts(f.JoinedBefore),
		LastActiveAfter: ts(f.LastActiveAfter), LastActiveBefore: ts(f.LastActiveBefore),
	}
}
