package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/rpc"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/store"
)

// Segments implements SegmentsService.
type Segments struct {
	*Handler
}

var _ membersv1connect.SegmentsServiceHandler = Segments{}

// NewSegments returns the segments API, auditing to log.
func NewSegments(s *store.Store, log *audit.Log, logger *slog.Logger) Segments {
	return Segments{&Handler{store: s, audit: log, logger: logger, now: time.Now}}
}

// CreateSegment saves a named filter.
func (h Segments) CreateSegment(ctx context.Context, req *connect.Request[membersv1.CreateSegmentRequest]) (*connect.Response[membersv1.CreateSegmentResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	var errs validate.Errors
	name, ferr := validate.Text("name", req.Msg.GetName(), 1, 100)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	f, err := filterFromProto(req.Msg.GetFilter())
	errs = append(errs, validate.FieldErrors(err)...)
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	caller, _ := auth.FromContext(ctx)
	seg := domain.Segment{ID: newID(), Community: community, Name: name, Filter: f, CreatedAt: h.now().UTC().Truncate(time.Microsecond), CreatedBy: caller.Subject}
	if err := h.store.SaveSegment(ctx, seg, h.audit); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.CreateSegmentResponse{Segment: segmentToProto(seg)}), nil
}

// ListSegments lists a community's segments.
func (h Segments) ListSegments(ctx context.Context, req *connect.Request[membersv1.ListSegmentsRequest]) (*connect.Response[membersv1.ListSegmentsResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	segs, err := h.store.Segments(ctx, community)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListSegmentsResponse{}
	for _, s := range segs {
		res.Segments = append(res.Segments, segmentToProto(s))
	}
	return connect.NewResponse(res), nil
}

// DeleteSegment removes a segment.
func (h Segments) DeleteSegment(ctx context.Context, req *connect.Request[membersv1.DeleteSegmentRequest]) (*connect.Response[membersv1.DeleteSegmentResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if req.Msg.GetId() == "" {
		return nil, h.toConnect(ctx, req.Spec(), fieldRequired("id"))
	}
	if err := h.store.DeleteSegment(ctx, community, req.Msg.GetId(), h.audit); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.DeleteSegmentResponse{}), nil
}

// CountSegment counts a segment's members.
func (h Segments) CountSegment(ctx context.Context, req *connect.Request[membersv1.CountSegmentRequest]) (*connect.Response[membersv1.CountSegmentResponse], error) {
	community, f, err := h.selection(ctx, req.Msg.GetCommunity(), req.Msg.GetSegmentId(), req.Msg.GetFilter())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if f.Search, err = domain.ParseSearchQuery("query", req.Msg.GetQuery()); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	n, err := h.store.CountSegment(ctx, community, f)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.CountSegmentResponse{Count: n}), nil
}

// ListSegmentMembers pages through a segment.
func (h Segments) ListSegmentMembers(ctx context.Context, req *connect.Request[membersv1.ListSegmentMembersRequest]) (*connect.Response[membersv1.ListSegmentMembersResponse], error) {
	community, f, err := h.selection(ctx, req.Msg.GetCommunity(), req.Msg.GetSegmentId(), req.Msg.GetFilter())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if f.Search, err = domain.ParseSearchQuery("query", req.Msg.GetQuery()); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	after, err := rpc.DecodePageToken(community, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	members, err := h.store.SegmentMembers(ctx, community, f, after, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListSegmentMembersResponse{}
	if len(members) > size {
		members = members[:size]
		res.NextPageToken = rpc.EncodePageToken(community, members[size-1].ID)
	}
	for _, m := range members {
		res.Members = append(res.Members, &membersv1.SegmentMember{Id: m.ID, DisplayName: m.DisplayName, Level: m.Level})
	}
	return connect.NewResponse(res), nil
}

// TargetGroupReport describes a segment.
func (h Segments) TargetGroupReport(ctx context.Context, req *connect.Request[membersv1.TargetGroupReportRequest]) (*connect.Response[membersv1.TargetGroupReportResponse], error) {
	community, f, err := h.selection(ctx, req.Msg.GetCommunity(), req.Msg.GetSegmentId(), req.Msg.GetFilter())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	r, err := h.store.Report(ctx, community, f, h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.TargetGroupReportResponse{
		Members: r.Members, Interests: bucketsToProto(r.Interests), Skills: bucketsToProto(r.Skills), Goals: bucketsToProto(r.Goals),
		Countries: bucketsToProto(r.Countries), Regions: bucketsToProto(r.Regions), Levels: bucketsToProto(r.Levels),
		Recency: bucketsToProto(r.Recency), WithMotivation: r.WithMotivation, MeanAvailabilityHours: r.MeanAvailability,
	}), nil
}

// selection resolves a community and the filter a call names: a saved
// segment, or an ad-hoc filter (nil selects everyone).
func (h *Handler) selection(ctx context.Context, rawCommunity, segmentID string, filter *membersv1.SegmentFilter) (string, domain.Filter, error) {
	community, err := auth.Confine(ctx, rawCommunity)
	if err != nil {
		return "", domain.Filter{}, err
	}
	if community, err = communityOf(community); err != nil {
		return "", domain.Filter{}, err
	}
	if segmentID != "" && filter != nil {
		return "", domain.Filter{}, validate.Field("filter", "give a segment_id or a filter, not both")
	}
	if segmentID != "" {
		seg, err := h.store.Segment(ctx, community, segmentID)
		return community, seg.Filter, err // a segment of another community is not found
	}
	f, err := filterFromProto(filter)
	return community, f, err
}

func filterFromProto(f *membersv1.SegmentFilter) (domain.Filter, error) {
	if f == nil {
		return domain.Filter{}, nil
	}
	ts := func(t *timestamppb.Timestamp) time.Time {
		if t == nil {
			return time.Time{}
		}
		return t.AsTime()
	}
	return domain.FilterInput{Filter: domain.Filter{
		Interests: f.GetInterests(), Skills: f.GetSkills(), Goals: f.GetGoals(), CountryCodes: f.GetCountryCodes(),
		Regions: f.GetRegions(), Cities: f.GetCities(), Levels: f.GetLevels(), Roles: f.GetRoles(), Consents: f.GetConsents(),
		JoinedAfter: ts(f.GetJoinedAfter()), JoinedBefore: ts(f.GetJoinedBefore()),
		LastActiveAfter: ts(f.GetLastActiveAfter()), LastActiveBefore: ts(f.GetLastActiveBefore()),
	}, StatusNames: f.GetStatuses()}.Validate()
}

func filterToProto(f domain.Filter) *membersv1.SegmentFilter {
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	out := &membersv1.SegmentFilter{
		Interests: f.Interests, Skills: f.Skills, Goals: f.Goals, CountryCodes: f.CountryCodes, Regions: f.Regions,
		Cities: f.Cities, Levels: f.Levels, Roles: f.Roles, Consents: f.Consents,
		JoinedAfter: ts(f.JoinedAfter), JoinedBefore: ts(f.JoinedBefore),
		LastActiveAfter: ts(f.LastActiveAfter), LastActiveBefore: ts(f.LastActiveBefore),
	}
	for _, st := range f.Statuses {
		out.Statuses = append(out.Statuses, st.String())
	}
	return out
}

func segmentToProto(s domain.Segment) *membersv1.Segment {
	return &membersv1.Segment{Id: s.ID, Community: s.Community, Name: s.Name, Filter: filterToProto(s.Filter), CreatedAt: timestamppb.New(s.CreatedAt)}
}

func bucketsToProto(bs []domain.Bucket) []*membersv1.Bucket {
	out := make([]*membersv1.Bucket, len(bs))
	for i, b := range bs {
		out[i] = &membersv1.Bucket{Value: b.Value, Count: b.Count}
	}
	return out
}
