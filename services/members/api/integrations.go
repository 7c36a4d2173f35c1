package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/internal/webhooksig"
	"github.com/kinshiphq/kinship/services/members/domain"
	"github.com/kinshiphq/kinship/services/members/store"
)

// Integrations implements IntegrationsService.
type Integrations struct {
	*Handler
}

var _ membersv1connect.IntegrationsServiceHandler = Integrations{}

// NewIntegrations returns the integrations API reading time from now (nil
// means time.Now): secrets rotated expire by it.
func NewIntegrations(s *store.Store, log *audit.Log, logger *slog.Logger, now func() time.Time) Integrations {
	if now == nil {
		now = time.Now
	}
	return Integrations{&Handler{store: s, audit: log, logger: logger, now: now}}
}

// Secret rotation bounds.
const (
	defaultPreviousValid = 24 * time.Hour
	maxPreviousValid     = 7 * 24 * time.Hour
)

var sourceKinds = map[membersv1.ActivitySourceKind]domain.ActivitySourceKind{
	membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_DISCOURSE: domain.SourceDiscourse,
	membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_GITHUB:    domain.SourceGitHub,
	membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_GENERIC:   domain.SourceGeneric,
}

// newSourceSecret draws a source's secret: Standard Webhooks' form for
// generic sources, 32 random bytes in hex for the tools that take a plain
// shared secret (GitHub, Discourse).
func newSourceSecret(kind domain.ActivitySourceKind) (string, error) {
	if kind == domain.SourceGeneric {
		return webhooksig.NewSecret()
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("draw source secret: %w", err)
	}
	return hex.EncodeToString(raw), nil
}

func (h Integrations) integrationError(ctx context.Context, spec connect.Spec, err error) error {
	switch {
	case errors.Is(err, domain.ErrSourceNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, domain.ErrSourceExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, domain.ErrTooManySources):
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%w (%d)", err, domain.MaxSources))
	case errors.Is(err, domain.ErrHandleTaken):
		return connect.NewError(connect.CodeAlreadyExists, err)
	}
	return h.toConnect(ctx, spec, err)
}

// CreateActivitySource registers a source and returns its secret once.
func (h Integrations) CreateActivitySource(ctx context.Context, req *connect.Request[membersv1.CreateActivitySourceRequest]) (*connect.Response[membersv1.CreateActivitySourceResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	var errs validate.Errors
	name, ferr := domain.ValidateSourceName("name", req.Msg.GetName())
	if ferr != nil {
		errs = append(errs, ferr)
	}
	kind, ok := sourceKinds[req.Msg.GetKind()]
	if !ok {
		errs = append(errs, validate.Field("kind", "must be ACTIVITY_SOURCE_KIND_DISCOURSE, ACTIVITY_SOURCE_KIND_GITHUB or ACTIVITY_SOURCE_KIND_GENERIC"))
	}
	if name == domain.ProviderGitHub && kind != domain.SourceGitHub {
		errs = append(errs, validate.Field("name", "\"github\" names the handles of every GitHub source; choose another name"))
	}
	if err := errs.Err(); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	secret, err := newSourceSecret(kind)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	caller, _ := auth.FromContext(ctx)
	src := domain.ActivitySource{Community: community, Name: name, Kind: kind, Secret: secret, CreatedAt: h.now().UTC().Truncate(time.Microsecond)}
	if err := h.store.CreateSource(ctx, src, caller.Subject, h.audit); err != nil {
		return nil, h.integrationError(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "activity source created", "community", community, "source", name, "kind", string(kind))
	return connect.NewResponse(&membersv1.CreateActivitySourceResponse{Source: sourceToProto(src), Secret: secret}), nil
}

// ListActivitySources lists the community's sources, without secrets.
func (h Integrations) ListActivitySources(ctx context.Context, req *connect.Request[membersv1.ListActivitySourcesRequest]) (*connect.Response[membersv1.ListActivitySourcesResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	sources, err := h.store.Sources(ctx, community)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListActivitySourcesResponse{}
	for _, src := range sources {
		res.Sources = append(res.Sources, sourceToProto(src))
	}
	return connect.NewResponse(res), nil
}

// RotateActivitySourceSecret issues a new secret, keeping the previous one
// valid for a while.
func (h Integrations) RotateActivitySourceSecret(ctx context.Context, req *connect.Request[membersv1.RotateActivitySourceSecretRequest]) (*connect.Response[membersv1.RotateActivitySourceSecretResponse], error) {
	community, name, err := sourceTarget(req.Msg.GetCommunity(), req.Msg.GetName())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	valid := defaultPreviousValid
	if hours := req.Msg.GetPreviousValidHours(); hours != 0 {
		if hours < 0 || time.Duration(hours)*time.Hour > maxPreviousValid {
			return nil, h.toConnect(ctx, req.Spec(), validate.Field("previous_valid_hours", "must be between 1 and %d", int(maxPreviousValid.Hours())))
		}
		valid = time.Duration(hours) * time.Hour
	}
	current, err := h.store.Source(ctx, community, name)
	if err != nil {
		return nil, h.integrationError(ctx, req.Spec(), err)
	}
	secret, err := newSourceSecret(current.Kind)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	src, err := h.store.RotateSourceSecret(ctx, community, name, secret, h.now().Add(valid), h.audit)
	if err != nil {
		return nil, h.integrationError(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "activity source secret rotated", "community", community, "source", name)
	return connect.NewResponse(&membersv1.RotateActivitySourceSecretResponse{Source: sourceToProto(src), Secret: secret}), nil
}

// DeleteActivitySource stops a source.
func (h Integrations) DeleteActivitySource(ctx context.Context, req *connect.Request[membersv1.DeleteActivitySourceRequest]) (*connect.Response[membersv1.DeleteActivitySourceResponse], error) {
	community, name, err := sourceTarget(req.Msg.GetCommunity(), req.Msg.GetName())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.DeleteSource(ctx, community, name, h.audit); err != nil {
		return nil, h.integrationError(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "activity source deleted", "community", community, "source", name)
	return connect.NewResponse(&membersv1.DeleteActivitySourceResponse{}), nil
}

func sourceTarget(rawCommunity, rawName string) (string, string, error) {
	var errs validate.Errors
	community, err := communityOf(rawCommunity)
	errs = append(errs, validate.FieldErrors(err)...)
	name, ferr := domain.ValidateSourceName("name", rawName)
	if ferr != nil {
		errs = append(errs, ferr)
	}
	return community, name, errs.Err()
}

// optionalSource checks a source filter.
func optionalSource(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	name, ferr := domain.ValidateSourceName("source", raw)
	if ferr != nil {
		return "", ferr
	}
	return name, nil
}

// ListDeliveries pages through the delivery log, newest first.
func (h Integrations) ListDeliveries(ctx context.Context, req *connect.Request[membersv1.ListDeliveriesRequest]) (*connect.Response[membersv1.ListDeliveriesResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	source, err := optionalSource(req.Msg.GetSource())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	cursor, err := rpc.DecodePageToken(community+":deliveries:"+source, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	var before time.Time
	var beforeID string
	if cursor != "" {
		nanos, id, ok := strings.Cut(cursor, "/")
		n, perr := strconv.ParseInt(nanos, 10, 64)
		if !ok || perr != nil {
			return nil, h.toConnect(ctx, req.Spec(), validate.Field("page_token", "is not a page token of this list"))
		}
		before, beforeID = time.Unix(0, n).UTC(), id
	}
	list, err := h.store.Deliveries(ctx, community, source, before, beforeID, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListDeliveriesResponse{}
	if len(list) > size {
		list = list[:size]
		last := list[size-1]
		res.NextPageToken = rpc.EncodePageToken(community+":deliveries:"+source, strconv.FormatInt(last.ReceivedAt.UnixNano(), 10)+"/"+last.DeliveryID)
	}
	for _, d := range list {
		res.Deliveries = append(res.Deliveries, deliveryToProto(d))
	}
	return connect.NewResponse(res), nil
}

// ListUnmatchedActivities pages through the activity kept for later.
func (h Integrations) ListUnmatchedActivities(ctx context.Context, req *connect.Request[membersv1.ListUnmatchedActivitiesRequest]) (*connect.Response[membersv1.ListUnmatchedActivitiesResponse], error) {
	community, err := communityOf(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	source, err := optionalSource(req.Msg.GetSource())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	after, err := rpc.DecodePageToken(community+":unmatched:"+source, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	list, err := h.store.Unmatched(ctx, community, source, after, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListUnmatchedActivitiesResponse{}
	if len(list) > size {
		list = list[:size]
		res.NextPageToken = rpc.EncodePageToken(community+":unmatched:"+source, list[size-1].ID)
	}
	for _, p := range list {
		res.Activities = append(res.Activities, &membersv1.UnmatchedActivity{Id: p.ID, Source: p.Source, Provider: p.Who.Provider, Handle: p.Who.Handle,
			Email: p.Who.Email, Type: p.Activity.Type, OccurredAt: timestamppb.New(p.Activity.OccurredAt), SourceEventId: p.Activity.SourceEventID,
			Properties: p.Activity.Properties, ReceivedAt: timestamppb.New(p.ReceivedAt)})
	}
	return connect.NewResponse(res), nil
}

// LinkHandle links a member's handle at a provider and records what was
// kept for it.
func (h Integrations) LinkHandle(ctx context.Context, req *connect.Request[membersv1.LinkHandleRequest]) (*connect.Response[membersv1.LinkHandleResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	provider, handle, err := domain.ValidateHandle(req.Msg.GetProvider(), req.Msg.GetHandle())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	caller, _ := auth.FromContext(ctx)
	hd := domain.Handle{Community: m.Community, MemberID: m.ID, Provider: provider, Handle: handle, LinkedAt: h.now().UTC().Truncate(time.Microsecond)}
	matched, err := h.store.LinkHandle(ctx, hd, caller.Subject, h.audit)
	if err != nil {
		return nil, h.integrationError(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "handle linked", "community", m.Community, "member_id", m.ID, "provider", provider, "matched", matched)
	return connect.NewResponse(&membersv1.LinkHandleResponse{Handle: handleToProto(hd), Matched: int32(matched)}), nil
}

// UnlinkHandle removes a member's handle at a provider.
func (h Integrations) UnlinkHandle(ctx context.Context, req *connect.Request[membersv1.UnlinkHandleRequest]) (*connect.Response[membersv1.UnlinkHandleResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	provider, ferr := domain.ValidateSourceName("provider", req.Msg.GetProvider())
	if ferr != nil {
		return nil, h.toConnect(ctx, req.Spec(), ferr)
	}
	if err := h.store.UnlinkHandle(ctx, m.Community, m.ID, provider, h.audit); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&membersv1.UnlinkHandleResponse{}), nil
}

// ListHandles lists a member's handles.
func (h Integrations) ListHandles(ctx context.Context, req *connect.Request[membersv1.ListHandlesRequest]) (*connect.Response[membersv1.ListHandlesResponse], error) {
	m, err := h.target(ctx, req.Msg.GetCommunity(), req.Msg.GetMemberId(), "member_id")
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	list, err := h.store.Handles(ctx, m.Community, m.ID)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.ListHandlesResponse{}
	for _, hd := range list {
		res.Handles = append(res.Handles, handleToProto(hd))
	}
	return connect.NewResponse(res), nil
}

// RecordActivities records up to MaxBulkActivities activities, each with
// its own result.
func (h Integrations) RecordActivities(ctx context.Context, req *connect.Request[membersv1.RecordActivitiesRequest]) (*connect.Response[membersv1.RecordActivitiesResponse], error) {
	settings, err := h.settings(ctx, req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	rows := req.Msg.GetActivities()
	switch {
	case len(rows) == 0:
		return nil, h.toConnect(ctx, req.Spec(), fieldRequired("activities"))
	case len(rows) > domain.MaxBulkActivities:
		return nil, h.toConnect(ctx, req.Spec(), validate.Field("activities", "must hold at most %d; send more in further calls, or import a CSV", domain.MaxBulkActivities))
	}
	var inputs []domain.ActivityInput
	for _, r := range rows {
		in := domain.ActivityInput{MemberID: r.GetMemberId(), Email: r.GetEmail(), Provider: r.GetProvider(), Handle: r.GetHandle(), Type: r.GetType(),
			SourceEventID: r.GetSourceEventId(), Properties: r.GetProperties()}
		if r.GetOccurredAt() != nil {
			in.OccurredAt = r.GetOccurredAt().AsTime()
		}
		inputs = append(inputs, in)
	}
	results, err := h.recordBulk(ctx, settings, inputs, func(i int) int64 { return int64(i) })
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &membersv1.RecordActivitiesResponse{Results: results}
	for _, r := range results {
		countOutcome(r.GetOutcome(), &res.Recorded, &res.Duplicates, &res.Unmatched, &res.Failed)
	}
	h.logger.InfoContext(ctx, "activities recorded in bulk", "community", settings.Community, "recorded", res.Recorded, "duplicates", res.Duplicates,
		"unmatched", res.Unmatched, "failed", res.Failed)
	return connect.NewResponse(res), nil
}

func countOutcome(o membersv1.RowOutcome, recorded, duplicates, unmatched, failed *int64) {
	switch o {
	case membersv1.RowOutcome_ROW_OUTCOME_RECORDED:
		*recorded++
	case membersv1.RowOutcome_ROW_OUTCOME_DUPLICATE:
		*duplicates++
	case membersv1.RowOutcome_ROW_OUTCOME_UNMATCHED:
		*unmatched++
	default:
		*failed++
	}
}

// recordBulk checks inputs, records the valid ones in one transaction and
// returns a result per input, numbered by row.
func (h Integrations) recordBulk(ctx context.Context, settings domain.Settings, inputs []domain.ActivityInput, row func(i int) int64) ([]*membersv1.RowResult, error) {
	results := make([]*membersv1.RowResult, len(inputs))
	var items []store.Incoming
	var at []int
	now := h.now()
	for i, in := range inputs {
		a, who, err := domain.NewIncoming(in, settings, now)
		if err != nil {
			fe := validate.FieldErrors(err)
			r := &membersv1.RowResult{Row: row(i), Outcome: membersv1.RowOutcome_ROW_OUTCOME_FAILED}
			if len(fe) > 0 {
				r.Field, r.Reason = fe[0].Field, fe[0].Reason
			}
			results[i] = r
			continue
		}
		a.ID = newID()
		items, at = append(items, store.Incoming{Activity: a, Who: who}), append(at, i)
	}
	if len(items) == 0 {
		return results, nil
	}
	outcomes, err := h.store.RecordIncoming(ctx, settings.Community, items, settings, h.audit)
	if err != nil {
		return nil, err
	}
	for j, o := range outcomes {
		i := at[j]
		r := &membersv1.RowResult{Row: row(i), MemberId: o.MemberID}
		switch {
		case o.Recorded:
			r.Outcome = membersv1.RowOutcome_ROW_OUTCOME_RECORDED
		case o.Unmatched:
			r.Outcome = membersv1.RowOutcome_ROW_OUTCOME_UNMATCHED
		case o.Duplicate:
			r.Outcome = membersv1.RowOutcome_ROW_OUTCOME_DUPLICATE
		default:
			// A member id of nobody in the community (or who left): as
			// unknown as an id of another community.
			r.Outcome, r.Field, r.Reason, r.MemberId = membersv1.RowOutcome_ROW_OUTCOME_FAILED, "member_id", "is not a current member of the community", ""
		}
		results[i] = r
	}
	return results, nil
}

func sourceToProto(src domain.ActivitySource) *membersv1.ActivitySource {
	out := &membersv1.ActivitySource{Name: src.Name, Kind: kindToProto(src.Kind), WebhookPath: "/ingest/" + src.Community + "/" + src.Name,
		Provider: src.Provider(), CreatedAt: timestamppb.New(src.CreatedAt)}
	if !src.PreviousExpiresAt.IsZero() && src.PreviousSecret != "" {
		out.PreviousSecretExpiresAt = timestamppb.New(src.PreviousExpiresAt)
	}
	if !src.LastDeliveryAt.IsZero() {
		out.LastDeliveryAt = timestamppb.New(src.LastDeliveryAt)
	}
	return out
}

func kindToProto(k domain.ActivitySourceKind) membersv1.ActivitySourceKind {
	for p, d := range sourceKinds {
		if d == k {
			return p
		}
	}
	return membersv1.ActivitySourceKind_ACTIVITY_SOURCE_KIND_UNSPECIFIED
}

func handleToProto(hd domain.Handle) *membersv1.Handle {
	return &membersv1.Handle{Provider: hd.Provider, Handle: hd.Handle, LinkedAt: timestamppb.New(hd.LinkedAt)}
}

var deliveryOutcomes = map[string]membersv1.DeliveryOutcome{
	domain.DeliveryRecorded:  membersv1.DeliveryOutcome_DELIVERY_OUTCOME_RECORDED,
	domain.DeliveryUnmatched: membersv1.DeliveryOutcome_DELIVERY_OUTCOME_UNMATCHED,
	domain.DeliveryIgnored:   membersv1.DeliveryOutcome_DELIVERY_OUTCOME_IGNORED,
}

func deliveryToProto(d domain.Delivery) *membersv1.Delivery {
	return &membersv1.Delivery{Source: d.Source, DeliveryId: d.DeliveryID, ReceivedAt: timestamppb.New(d.ReceivedAt), Outcome: deliveryOutcomes[d.Outcome],
		Reason: d.Reason, Event: d.Event, Recorded: int32(d.Recorded), Unmatched: int32(d.Unmatched)}
}
