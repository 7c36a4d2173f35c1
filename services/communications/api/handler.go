// Package api serves the communications service's Connect API.
package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/services/communications/domain"
	"github.com/kinshiphq/kinship/services/communications/events"
)

// Store is what the API needs from the delivery log.
type Store interface {
	Claim(ctx context.Context, m domain.Message, lease time.Duration) (domain.Message, bool, error)
	MarkSent(ctx context.Context, id string, sentAt time.Time, sent kafka.Event) error
	MarkFailed(ctx context.Context, id, reason string) error
	Release(ctx context.Context, id string) error
}

// Mailer delivers e-mail.
type Mailer interface {
	Send(ctx context.Context, env mail.Envelope) error
}

// Options configure the API.
type Options struct {
	// Communities are the community slugs served here.
	Communities []string
	// MessageIDDomain is the right-hand side of Message-ID headers.
	MessageIDDomain string
	// Lease is how long one delivery attempt holds its idempotency key;
	// it must outlast the SMTP timeout.
	Lease time.Duration
}

// Handler implements CommunicationsService.
type Handler struct {
	store       Store
	mailer      Mailer
	logger      *slog.Logger
	communities map[string]bool
	opts        Options
}

var _ communicationsv1connect.CommunicationsServiceHandler = (*Handler)(nil)

// New returns the API.
func New(s Store, m Mailer, logger *slog.Logger, opts Options) *Handler {
	if opts.Lease == 0 {
		opts.Lease = 2 * time.Minute
	}
	communities := map[string]bool{}
	for _, c := range opts.Communities {
		communities[c] = true
	}
	return &Handler{store: s, mailer: m, logger: logger, communities: communities, opts: opts}
}

// SendMessage delivers one e-mail once per idempotency key.
func (h *Handler) SendMessage(ctx context.Context, req *connect.Request[communicationsv1.SendMessageRequest]) (*connect.Response[communicationsv1.SendMessageResponse], error) {
	m, err := domain.NewMessage(domain.SendRequest{
		Community:      req.Msg.GetCommunity(),
		IdempotencyKey: req.Msg.GetIdempotencyKey(),
		MemberID:       req.Msg.GetMemberId(),
		To:             req.Msg.GetToEmail(),
		Subject:        req.Msg.GetSubject(),
		Text:           req.Msg.GetTextBody(),
	}, uuid.Must(uuid.NewV7()).String(), time.Now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if !h.communities[m.Community] {
		return nil, h.toConnect(ctx, req.Spec(), domain.ErrUnknownCommunity)
	}
	stored, deliver, err := h.store.Claim(ctx, m, h.opts.Lease)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if deliver {
		if stored, err = h.deliver(ctx, stored); err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
	}
	return connect.NewResponse(&communicationsv1.SendMessageResponse{Message: toProto(stored)}), nil
}

// errMailUnavailable is a temporary delivery failure: retry with the same key.
var errMailUnavailable = errors.New("the mail server did not accept the message yet; retry with the same idempotency key")

// deliver hands m to the mail server and records the outcome. The outcome
// is recorded even when the caller has gone, since the e-mail is out.
func (h *Handler) deliver(ctx context.Context, m domain.Message) (domain.Message, error) {
	sendErr := h.mailer.Send(ctx, mail.Envelope{
		MessageID: m.ID + "@" + h.opts.MessageIDDomain,
		To:        m.To,
		Subject:   m.Subject,
		Text:      m.Text,
		Headers:   map[string]string{"X-Kinship-Community": m.Community},
	})
	record, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var delivery *mail.DeliveryError
	switch {
	case sendErr == nil:
		m.Status, m.SentAt = domain.StatusSent, time.Now().UTC().Truncate(time.Microsecond)
		sent, err := events.MessageSent(uuid.Must(uuid.NewV7()).String(), m)
		if err != nil {
			return m, err
		}
		if err := h.store.MarkSent(record, m.ID, m.SentAt, sent); err != nil {
			return m, err
		}
		h.logger.InfoContext(ctx, "message sent", "community", m.Community, "message_id", m.ID, "member_id", m.MemberID)
		return m, nil
	case errors.As(sendErr, &delivery) && !delivery.Temporary:
		m.Status, m.FailureReason = domain.StatusFailed, sendErr.Error()
		if err := h.store.MarkFailed(record, m.ID, m.FailureReason); err != nil {
			return m, err
		}
		h.logger.WarnContext(ctx, "message refused by the mail server", "community", m.Community, "message_id", m.ID, "error", sendErr)
		return m, nil
	default:
		h.logger.WarnContext(ctx, "message delivery failed; the caller may retry", "community", m.Community, "message_id", m.ID, "error", sendErr)
		if err := h.store.Release(record, m.ID); err != nil {
			return m, errors.Join(errMailUnavailable, err)
		}
		return m, errMailUnavailable
	}
}
