package events

import (
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/services/members/domain"
)

// The protobuf forms of domain values, shared by the events and the API.

// ProfileToProto converts a profile.
func ProfileToProto(p domain.Profile) *membersv1.Profile {
	return &membersv1.Profile{
		DisplayName: p.DisplayName, Email: p.Email, Locale: p.Locale, TimeZone: p.TimeZone,
		Location:  &membersv1.Location{City: p.Location.City, Region: p.Location.Region, CountryCode: p.Location.CountryCode},
		Interests: p.Interests, Skills: p.Skills, Motivation: p.Motivation, Goals: p.Goals,
		AvailabilityHoursPerMonth: int32(p.AvailabilityHours),
	}
}

// ProfileFromProto reads a submitted profile; nil reads as empty.
func ProfileFromProto(p *membersv1.Profile) domain.Profile {
	return domain.Profile{
		DisplayName: p.GetDisplayName(), Email: p.GetEmail(), Locale: p.GetLocale(), TimeZone: p.GetTimeZone(),
		Location:  domain.Location{City: p.GetLocation().GetCity(), Region: p.GetLocation().GetRegion(), CountryCode: p.GetLocation().GetCountryCode()},
		Interests: p.GetInterests(), Skills: p.GetSkills(), Motivation: p.GetMotivation(), Goals: p.GetGoals(),
		AvailabilityHours: int(p.GetAvailabilityHoursPerMonth()),
	}
}

// SourceToProto converts a source.
func SourceToProto(s domain.Source) *membersv1.Source {
	kinds := map[domain.SourceKind]membersv1.SourceKind{
		domain.SourceOrganic: membersv1.SourceKind_SOURCE_KIND_ORGANIC, domain.SourceCampaign: membersv1.SourceKind_SOURCE_KIND_CAMPAIGN,
		domain.SourceEvent: membersv1.SourceKind_SOURCE_KIND_EVENT, domain.SourceReferral: membersv1.SourceKind_SOURCE_KIND_REFERRAL,
		domain.SourceImport: membersv1.SourceKind_SOURCE_KIND_IMPORT,
	}
	return &membersv1.Source{Kind: kinds[s.Kind], Campaign: s.Campaign, EventId: s.EventID, ReferrerId: s.ReferrerID}
}

// SourceFromProto reads a submitted source; unspecified means organic.
func SourceFromProto(s *membersv1.Source) domain.Source {
	kinds := map[membersv1.SourceKind]domain.SourceKind{
		membersv1.SourceKind_SOURCE_KIND_UNSPECIFIED: domain.SourceOrganic, membersv1.SourceKind_SOURCE_KIND_ORGANIC: domain.SourceOrganic,
		membersv1.SourceKind_SOURCE_KIND_CAMPAIGN: domain.SourceCampaign, membersv1.SourceKind_SOURCE_KIND_EVENT: domain.SourceEvent,
		membersv1.SourceKind_SOURCE_KIND_REFERRAL: domain.SourceReferral, membersv1.SourceKind_SOURCE_KIND_IMPORT: domain.SourceImport,
	}
	kind, ok := kinds[s.GetKind()]
	if !ok {
		kind = domain.SourceKind("unknown")
	}
	return domain.Source{Kind: kind, Campaign: s.GetCampaign(), EventID: s.GetEventId(), ReferrerID: s.GetReferrerId()}
}

// StatusToProto converts a status.
func StatusToProto(s domain.Status) membersv1.MemberStatus {
	switch s {
	case domain.StatusInvited:
		return membersv1.MemberStatus_MEMBER_STATUS_INVITED
	case domain.StatusActive:
		return membersv1.MemberStatus_MEMBER_STATUS_ACTIVE
	case domain.StatusInactive:
		return membersv1.MemberStatus_MEMBER_STATUS_INACTIVE
	case domain.StatusLeft:
		return membersv1.MemberStatus_MEMBER_STATUS_LEFT
	case domain.StatusErased:
		return membersv1.MemberStatus_MEMBER_STATUS_ERASED
	}
	return membersv1.MemberStatus_MEMBER_STATUS_UNSPECIFIED
}

// StatusFromProto reads a status; unspecified is an error for the caller.
func StatusFromProto(s membersv1.MemberStatus) (domain.Status, bool) {
	for _, st := range []domain.Status{domain.StatusInvited, domain.StatusActive, domain.StatusInactive, domain.StatusLeft, domain.StatusErased} {
		if StatusToProto(st) == s {
			return st, true
		}
	}
	return 0, false
}
