// Package api serves the communications service's Connect APIs and its
// plain HTTP endpoints (one-click unsubscribe, bounce intake).
package api

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/kinshiphq/kinship/internal/rpc"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/outbound"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
	"github.com/kinshiphq/kinship/services/communications/store"
)

// Delivery sends a claimed message at once, and wakes the dispatcher for
// queued ones.
type Delivery interface {
	DeliverNow(ctx context.Context, m domain.Message) (store.Outcome, error)
	Wake()
}

// Members is what the API asks of the members service.
type Members interface {
	// ConfirmEmail records that the holder of email followed the
	// confirmation link of memberID; domain.ErrStaleConfirmation when the
	// member no longer has or asks for that address.
	ConfirmEmail(ctx context.Context, community, memberID, email string) error
}

// Options configure the API.
type Options struct {
	// Communities are the community slugs served here.
	Communities []string
	// Lease is how long one delivery attempt holds its idempotency key;
	// it must outlast the SMTP timeout.
	Lease time.Duration
	// UnsubscribeKey signs unsubscribe and confirmation links.
	UnsubscribeKey []byte
	// BounceSecret derives each community's bounce token
	// (domain.BounceToken); empty disables bounce intake.
	BounceSecret []byte
	// Destinations vets webhook URLs (the outbound policy with the
	// operator's allow-list); nil applies the policy without one.
	Destinations domain.DestinationCheck
	// Members confirms addresses.
	Members Members
	// Quiet are the quiet hours the deliverer keeps, as GetSendingPolicy
	// tells them; the zero value is none.
	Quiet domain.QuietHours
}

// Handler implements the communications service's APIs.
type Handler struct {
	store       *store.Store
	delivery    Delivery
	audit       *audit.Log
	events      events.Factory
	logger      *slog.Logger
	communities map[string]bool
	opts        Options
	now         func() time.Time
}

var (
	_ communicationsv1connect.CommunicationsServiceHandler = (*Handler)(nil)
	_ communicationsv1connect.TemplatesServiceHandler      = (*Handler)(nil)
	_ communicationsv1connect.AnnouncementsServiceHandler  = (*Handler)(nil)
)

// New returns the API.
func New(s *store.Store, d Delivery, log *audit.Log, logger *slog.Logger, opts Options) *Handler {
	if opts.Lease == 0 {
		opts.Lease = 2 * time.Minute
	}
	if opts.Destinations == nil {
		// Without an operator's allow-list: the outbound rules alone.
		policy, _ := outbound.NewPolicy(nil)
		opts.Destinations = func(raw string) error { _, err := policy.CheckURL(raw); return err }
	}
	communities := map[string]bool{}
	for _, c := range opts.Communities {
		communities[c] = true
	}
	return &Handler{store: s, delivery: d, audit: log, logger: logger, communities: communities, opts: opts, now: time.Now}
}

// record is an audit entry written in the transaction tx of the action.
func (h *Handler) record(ctx context.Context, community, action, targetType, targetID string) func(*sql.Tx) error {
	return func(tx *sql.Tx) error { return h.audit.Record(ctx, tx, community, action, targetType, targetID) }
}

// errMailUnavailable is a temporary delivery failure: retry with the same key.
var errMailUnavailable = errors.New("the message could not be delivered yet; it is retried with backoff, and a retry with the same idempotency key reports its state")

// SendMessage delivers one message once per idempotency key.
func (h *Handler) SendMessage(ctx context.Context, req *connect.Request[communicationsv1.SendMessageRequest]) (*connect.Response[communicationsv1.SendMessageResponse], error) {
	m, err := domain.NewMessage(domain.SendRequest{
		Community:      req.Msg.GetCommunity(),
		IdempotencyKey: req.Msg.GetIdempotencyKey(),
		MemberID:       req.Msg.GetMemberId(),
		To:             req.Msg.GetToEmail(),
		Subject:        req.Msg.GetSubject(),
		Text:           req.Msg.GetTextBody(),
		Template:       req.Msg.GetTemplate(),
		Vars:           req.Msg.GetVariables(),
	}, newID(), h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.served(m.Community); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	// The member must be a recipient of this community: a member of
	// another community is not found, and nothing is rendered or sent.
	if _, err := h.store.LookupRecipient(ctx, m.Community, m.MemberID); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), memberErr(err))
	}
	if m.Template != "" {
		if _, err := h.store.Template(ctx, m.Community, m.Template); errors.Is(err, domain.ErrTemplateNotFound) {
			return nil, h.toConnect(ctx, req.Spec(), validate.Field("template", "is not a template of the community"))
		} else if err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
	}
	stored, deliver, err := h.store.Claim(ctx, m, h.opts.Lease, h.record(ctx, m.Community, "message.queued", "message", m.ID))
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if deliver {
		outcome, err := h.delivery.DeliverNow(ctx, stored)
		if err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
		if outcome.Status == domain.StatusPending {
			return nil, h.toConnect(ctx, req.Spec(), errMailUnavailable)
		}
		if stored, err = h.store.GetMessage(ctx, stored.Community, stored.ID); err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
		h.logger.InfoContext(ctx, "message delivered", "community", stored.Community, "message_id", stored.ID,
			"member_id", stored.MemberID, "status", stored.Status.String())
	}
	return connect.NewResponse(&communicationsv1.SendMessageResponse{Message: messageToProto(stored)}), nil
}

// GetMessage returns one delivery.
func (h *Handler) GetMessage(ctx context.Context, req *connect.Request[communicationsv1.GetMessageRequest]) (*connect.Response[communicationsv1.GetMessageResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	m, err := h.store.GetMessage(ctx, community, req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.GetMessageResponse{Message: messageToProto(m)}), nil
}

// ListDeliveries pages through the delivery log.
func (h *Handler) ListDeliveries(ctx context.Context, req *connect.Request[communicationsv1.ListDeliveriesRequest]) (*connect.Response[communicationsv1.ListDeliveriesResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	before, err := rpc.DecodePageToken(community, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	msgs, err := h.store.Deliveries(ctx, community, req.Msg.GetAnnouncementId(), req.Msg.GetMemberId(), before, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &communicationsv1.ListDeliveriesResponse{}
	if len(msgs) > size {
		msgs = msgs[:size]
		res.NextPageToken = rpc.EncodePageToken(community, msgs[size-1].ID)
	}
	for _, m := range msgs {
		res.Messages = append(res.Messages, messageToProto(m))
	}
	return connect.NewResponse(res), nil
}

// community validates a community slug and that it is served here.
func (h *Handler) community(raw string) (string, error) {
	c, ferr := validate.Slug("community", raw, 63)
	if ferr != nil {
		return "", ferr
	}
	return c, h.served(c)
}

func (h *Handler) served(community string) error {
	if !h.communities[community] {
		return domain.ErrUnknownCommunity
	}
	return nil
}

func messageToProto(m domain.Message) *communicationsv1.Message {
	out := &communicationsv1.Message{
		Id: m.ID, Community: m.Community, IdempotencyKey: m.IdempotencyKey, MemberId: m.MemberID, Subject: m.Subject,
		Status: statusToProto(m.Status), FailureReason: m.FailureReason, CreatedAt: timestamppb.New(m.CreatedAt),
		Kind: kindToProto(m.Kind), AnnouncementId: m.AnnouncementID, Attempts: int32(m.Attempts),
	}
	if !m.SentAt.IsZero() {
		out.SentAt = timestamppb.New(m.SentAt)
	}
	if !m.DueAt.IsZero() {
		out.DueAt = timestamppb.New(m.DueAt)
	}
	return out
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// memberErr reports a member id the community's projection does not hold
// as domain.ErrNoSuchMember.
func memberErr(err error) error {
	if errors.Is(err, store.ErrNoRecipient) {
		return domain.ErrNoSuchMember
	}
	return err
}
