package api

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/store"
)

// Engagement implements EngagementService.
type Engagement struct {
	*Handler
}

var _ membersv1connect.EngagementServiceHandler = Engagement{}

// NewEngagement returns the engagement API.
func NewEngagement(s *store.Store, log *audit.Log, logger *slog.Logger) Engagement {
	return Engagement{&Handler{store: s, audit: log, logger: logger, now: time.Now}}
}

// RecordActivity adds to a member's activity ledger.
func (h Engagement) RecordActivity(ctx context.Context, req *connect.Request[membersv1.RecordActivityRequest]) (*connect.Response[membersv1.RecordActivityResponse], error) {
	settings, err := h.settings(ctx, req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	var at time.Time
	if req.Msg.GetOccurredAt() != nil {
		at = req.Msg.GetOccurredAt().AsTime()
	}
	a, err := domain.NewActivity(domain.Activity{ID: newID(), Community: settings.Community, MemberID: req.Msg.GetMemberId(),
		Type: req.Msg.GetType(), OccurredAt: at, SourceEventID: req.Msg.GetSourceEventId(), Properties: req.Msg.GetProperties()}, settings, h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	recorded, eng, err := h.store.RecordActivity(ctx, a, settings, h.events, h.audit)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.RecordActivityResponse{Activity: activityToProto(a), Recorded: recorded, Level: eng.Level, Score: int32(eng.Score)}), nil
}

// GetEngagement returns a member's standing.
func (h Engagement) GetEngagement(ctx context.Context, req *connect.Request[membersv1.GetEngagementRequest]) (*connect.Response[membersv1.GetEngagementResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	settings, err := h.store.Settings(ctx, m.Community)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	eng, err := h.store.Engagement(ctx, m.Community, m.ID, settings)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.GetEngagementResponse{Level: eng.Level, Score: int32(eng.Score), LevelByScore: eng.LevelByScore}
	if !eng.LastActiveAt.IsZero() {
		res.LastActiveAt = timestamppb.New(eng.LastActiveAt)
	}
	for _, a := range eng.Recent {
		res.Recent = append(res.Recent, activityToProto(a))
	}
	return connect.NewResponse(res), nil
}

// ReviewLevels applies level changes, downgrades included.
func (h Engagement) ReviewLevels(ctx context.Context, req *connect.Request[membersv1.ReviewLevelsRequest]) (*connect.Response[membersv1.ReviewLevelsResponse], error) {
	settings, err := h.settings(ctx, req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	members, up, down, err := h.store.Relevel(ctx, settings.Community, settings, h.events, h.audit, "levels.reviewed")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "levels reviewed", "community", settings.Community, "members", members, "upgraded", up, "downgraded", down)
	return connect.NewResponse(&membersv1.ReviewLevelsResponse{Members: members, Upgraded: up, Downgraded: down}), nil
}

// RecomputeLevels rebuilds every level from the ledger.
func (h Engagement) RecomputeLevels(ctx context.Context, req *connect.Request[membersv1.RecomputeLevelsRequest]) (*connect.Response[membersv1.RecomputeLevelsResponse], error) {
	settings, err := h.settings(ctx, req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	members, up, down, err := h.store.Relevel(ctx, settings.Community, settings, h.events, h.audit, "levels.recomputed")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "levels recomputed", "community", settings.Community, "members", members, "changed", up+down)
	return connect.NewResponse(&membersv1.RecomputeLevelsResponse{Members: members, Changed: up + down}), nil
}

// GetCommunitySettings returns a community's settings.
func (h Engagement) GetCommunitySettings(ctx context.Context, req *connect.Request[membersv1.GetCommunitySettingsRequest]) (*connect.Response[membersv1.GetCommunitySettingsResponse], error) {
	settings, err := h.settings(ctx, req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.GetCommunitySettingsResponse{Settings: settingsToProto(settings)}), nil
}

// UpdateCommunitySettings replaces a community's settings. Levels follow
// new weights or thresholds at the next review; RecomputeLevels applies
// them at once.
func (h Engagement) UpdateCommunitySettings(ctx context.Context, req *connect.Request[membersv1.UpdateCommunitySettingsRequest]) (*connect.Response[membersv1.UpdateCommunitySettingsResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	in := req.Msg.GetSettings()
	st := domain.Settings{Community: community, Interests: in.GetInterestVocabulary(), Skills: in.GetSkillVocabulary(), Goals: in.GetGoals(),
		Weights: map[string]int{}, WindowDays: int(in.GetWindowDays())}
	for _, w := range in.GetActivityWeights() {
		st.Weights[w.GetType()] = int(w.GetWeight())
	}
	for _, l := range in.GetLevels() {
		st.Levels = append(st.Levels, domain.LevelThreshold{Name: l.GetName(), MinScore: int(l.GetMinScore())})
	}
	if len(in.GetSourceWeights()) > 0 {
		st.SourceWeights = map[string]int{}
		for _, w := range in.GetSourceWeights() {
			st.SourceWeights[w.GetSource()] = int(w.GetWeight())
		}
	}
	if st, err = st.Validate(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.SaveSettings(ctx, st, h.audit); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "community settings updated", "community", community)
	return connect.NewResponse(&membersv1.UpdateCommunitySettingsResponse{Settings: settingsToProto(st)}), nil
}

func activityToProto(a domain.Activity) *membersv1.Activity {
	return &membersv1.Activity{Id: a.ID, MemberId: a.MemberID, Type: a.Type, OccurredAt: timestamppb.New(a.OccurredAt), SourceEventId: a.SourceEventID,
		Properties: a.Properties, Source: a.Source}
}

func settingsToProto(s domain.Settings) *membersv1.CommunitySettings {
	out := &membersv1.CommunitySettings{Community: s.Community, InterestVocabulary: s.Interests, SkillVocabulary: s.Skills,
		Goals: s.Goals, WindowDays: int32(s.WindowDays)}
	for _, t := range s.ActivityTypes() {
		out.ActivityWeights = append(out.ActivityWeights, &membersv1.ActivityWeight{Type: t, Weight: int32(s.Weights[t])})
	}
	for _, l := range s.Levels {
		out.Levels = append(out.Levels, &membersv1.LevelThreshold{Name: l.Name, MinScore: int32(l.MinScore)})
	}
	for _, name := range slices.Sorted(maps.Keys(s.SourceWeights)) {
		out.SourceWeights = append(out.SourceWeights, &membersv1.SourceWeight{Source: name, Weight: int32(s.SourceWeights[name])})
	}
	return out
}
