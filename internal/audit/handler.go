package audit

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "github.com/kinshiphq/kinship/gen/kinship/audit/v1"
	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
)

// Handler serves AuditService over one component's log.
type Handler struct {
	log     *Log
	service string
	logger  *slog.Logger
}

var _ auditv1connect.AuditServiceHandler = (*Handler)(nil)

// NewHandler serves log as the audit log of service (such as "events").
func NewHandler(log *Log, service string, logger *slog.Logger) *Handler {
	return &Handler{log: log, service: service, logger: logger}
}

// ListAuditEntries pages through the log, newest first.
func (h *Handler) ListAuditEntries(ctx context.Context, req *connect.Request[auditv1.ListAuditEntriesRequest]) (*connect.Response[auditv1.ListAuditEntriesResponse], error) {
	fail := func(err error) error { return rpc.ToConnect(ctx, h.logger, req.Spec().Procedure, err) }
	community, ferr := validate.Community(req.Msg.GetCommunity())
	if ferr != nil {
		return nil, fail(ferr)
	}
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, fail(err)
	}
	before, err := rpc.DecodePageToken(community, req.Msg.GetPageToken())
	if err != nil {
		return nil, fail(err)
	}
	var errs validate.Errors
	window := func(name string, ts *timestamppb.Timestamp) time.Time {
		if ts == nil {
			return time.Time{}
		}
		if ts.CheckValid() != nil {
			errs = append(errs, validate.Field(name, "is not a valid time"))
			return time.Time{}
		}
		return ts.AsTime()
	}
	since, until := window("since", req.Msg.GetSince()), window("until", req.Msg.GetUntil())
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		errs = append(errs, validate.Field("until", "must be after since"))
	}
	if err := errs.Err(); err != nil {
		return nil, fail(err)
	}
	entries, err := h.log.ListWindow(ctx, community, before, since, until, size+1)
	if err != nil {
		return nil, fail(err)
	}
	res := &auditv1.ListAuditEntriesResponse{}
	if len(entries) > size {
		entries = entries[:size]
		res.NextPageToken = rpc.EncodePageToken(community, entries[size-1].ID)
	}
	for _, e := range entries {
		res.Entries = append(res.Entries, ToProto(e, h.service))
	}
	return connect.NewResponse(res), nil
}

// ToProto is the API form of e, an entry of service's log.
func ToProto(e Entry, service string) *auditv1.AuditEntry {
	return &auditv1.AuditEntry{Id: e.ID, Community: e.Community, OccurredAt: timestamppb.New(e.OccurredAt), ActorKind: e.ActorKind,
		ActorId: e.ActorID, Action: e.Action, TargetType: e.TargetType, TargetId: e.TargetID, Service: service}
}
