package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// CreateAnnouncement queues a template for a segment of recipients.
func (h *Handler) CreateAnnouncement(ctx context.Context, req *connect.Request[communicationsv1.CreateAnnouncementRequest]) (*connect.Response[communicationsv1.CreateAnnouncementResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	caller, _ := auth.FromContext(ctx)
	kind := domain.KindAnnouncement
	if req.Msg.GetKind() == communicationsv1.AnnouncementKind_ANNOUNCEMENT_KIND_DIGEST {
		kind = domain.KindDigest
	}
	var sendAt time.Time
	if req.Msg.GetSendAt() != nil {
		sendAt = req.Msg.GetSendAt().AsTime()
	}
	filter, err := filterFromProto(req.Msg.GetFilter())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	a, err := domain.NewAnnouncement(domain.Announcement{
		ID: newID(), Community: community, Template: req.Msg.GetTemplate(), Kind: kind, Filter: filter,
		SendAt: sendAt, Webhooks: req.Msg.GetWebhooks(), Vars: req.Msg.GetVariables(), IdempotencyKey: req.Msg.GetIdempotencyKey(),
		CreatedBy: caller.Subject,
	}, h.now())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if _, err := h.store.Template(ctx, community, a.Template); errors.Is(err, domain.ErrTemplateNotFound) {
		return nil, h.toConnect(ctx, req.Spec(), validate.Field("template", "is not a template of the community"))
	} else if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	// Only members who may receive it get a message; consent is checked
	// again when each is sent.
	filter = a.Filter
	filter.Consents = append(slices.Clone(filter.Consents), kind.Purpose())
	var hooks []domain.Webhook
	if a.Webhooks {
		if hooks, err = h.store.Webhooks(ctx, community, true); err != nil {
			return nil, h.toConnect(ctx, req.Spec(), err)
		}
	}
	// The announcement is accepted with the members it selects; their
	// messages are queued in the background (GetAnnouncement counts the
	// ones not queued yet as pending).
	stored, created, err := h.store.QueueAnnouncement(ctx, a, filter, hooks, func(m domain.Message) (kafka.Event, error) { return h.events.MessageQueued(m) },
		h.record(ctx, community, "announcement.created", "announcement", a.ID))
	if errors.Is(err, domain.ErrEmptySegment) {
		return nil, h.toConnect(ctx, req.Spec(), validate.Field("filter", "%s", domain.ErrEmptySegment.Error()))
	}
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if created {
		h.delivery.Wake()
		h.logger.InfoContext(ctx, "announcement accepted", "community", community, "announcement_id", a.ID, "recipients", stored.Members, "webhooks", len(hooks))
	}
	return connect.NewResponse(&communicationsv1.CreateAnnouncementResponse{Announcement: announcementToProto(stored)}), nil
}

// GetAnnouncement returns an announcement and its progress.
func (h *Handler) GetAnnouncement(ctx context.Context, req *connect.Request[communicationsv1.GetAnnouncementRequest]) (*connect.Response[communicationsv1.GetAnnouncementResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	a, err := h.store.Announcement(ctx, community, req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.GetAnnouncementResponse{Announcement: announcementToProto(a)}), nil
}

// ListAnnouncements pages through a community's announcements, newest
// first, without their message counts.
func (h *Handler) ListAnnouncements(ctx context.Context, req *connect.Request[communicationsv1.ListAnnouncementsRequest]) (*connect.Response[communicationsv1.ListAnnouncementsResponse], error) {
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
	list, err := h.store.Announcements(ctx, community, before, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &communicationsv1.ListAnnouncementsResponse{}
	if len(list) > size {
		list = list[:size]
		res.NextPageToken = rpc.EncodePageToken(community, list[size-1].ID)
	}
	for _, a := range list {
		res.Announcements = append(res.Announcements, announcementToProto(a))
	}
	return connect.NewResponse(res), nil
}

// GetSendingPolicy says which quiet hours hold announcements back.
func (h *Handler) GetSendingPolicy(ctx context.Context, req *connect.Request[communicationsv1.GetSendingPolicyRequest]) (*connect.Response[communicationsv1.GetSendingPolicyResponse], error) {
	if _, err := h.community(req.Msg.GetCommunity()); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &communicationsv1.GetSendingPolicyResponse{}
	if q := h.opts.Quiet; q != (domain.QuietHours{}) {
		res.QuietHoursStart, res.QuietHoursEnd = q.StartClock(), q.EndClock()
	}
	return connect.NewResponse(res), nil
}

// CancelAnnouncement stops an announcement's unsent messages.
func (h *Handler) CancelAnnouncement(ctx context.Context, req *connect.Request[communicationsv1.CancelAnnouncementRequest]) (*connect.Response[communicationsv1.CancelAnnouncementResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	id := req.Msg.GetId()
	if err := h.store.CancelAnnouncement(ctx, community, id, h.record(ctx, community, "announcement.cancelled", "announcement", id)); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	a, err := h.store.Announcement(ctx, community, req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.CancelAnnouncementResponse{Announcement: announcementToProto(a)}), nil
}

func announcementToProto(a domain.Announcement) *communicationsv1.Announcement {
	out := &communicationsv1.Announcement{
		Id: a.ID, Community: a.Community, Template: a.Template, Filter: filterToProto(a.Filter),
		SendAt: timestamppb.New(a.SendAt), CreatedAt: timestamppb.New(a.CreatedAt), Cancelled: a.Cancelled,
		Kind: communicationsv1.AnnouncementKind_ANNOUNCEMENT_KIND_ANNOUNCEMENT,
	}
	if a.Kind == domain.KindDigest {
		out.Kind = communicationsv1.AnnouncementKind_ANNOUNCEMENT_KIND_DIGEST
	}
	// Members not queued yet are pending; a cancellation suppressed them.
	if n := a.Unqueued(); a.Cancelled {
		out.Recipients, out.Suppressed = n, n
	} else {
		out.Recipients, out.Pending = n, n
	}
	for st, n := range a.Counts {
		out.Recipients += n
		switch st {
		case domain.StatusPending:
			out.Pending += n
		case domain.StatusSent:
			out.Sent = n
		case domain.StatusFailed:
			out.Failed = n
		case domain.StatusSuppressed:
			out.Suppressed += n
		case domain.StatusBounced:
			out.Bounced = n
		case domain.StatusInDoubt:
			out.InDoubt = n
		}
	}
	return out
}

// CreateWebhook registers a webhook and returns its signing secret once.
func (h *Handler) CreateWebhook(ctx context.Context, req *connect.Request[communicationsv1.CreateWebhookRequest]) (*connect.Response[communicationsv1.CreateWebhookResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	format := map[communicationsv1.WebhookFormat]domain.WebhookFormat{
		communicationsv1.WebhookFormat_WEBHOOK_FORMAT_GENERIC: domain.FormatGeneric, communicationsv1.WebhookFormat_WEBHOOK_FORMAT_SLACK: domain.FormatSlack,
		communicationsv1.WebhookFormat_WEBHOOK_FORMAT_DISCORD: domain.FormatDiscord, communicationsv1.WebhookFormat_WEBHOOK_FORMAT_MATRIX: domain.FormatMatrix,
	}[req.Msg.GetFormat()]
	w, err := domain.NewWebhook(community, req.Msg.GetUrl(), format, newID(), base64.RawURLEncoding.EncodeToString(secret[:]), h.now(), h.opts.Destinations)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.CreateWebhook(ctx, w, h.record(ctx, community, "webhook.created", "webhook", w.ID)); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	created := webhookToProto(w)
	created.Url = w.URL // shown in full once, to its creator
	return connect.NewResponse(&communicationsv1.CreateWebhookResponse{Webhook: created, Secret: w.Secret}), nil
}

// ListWebhooks lists a community's webhooks, without their secrets.
func (h *Handler) ListWebhooks(ctx context.Context, req *connect.Request[communicationsv1.ListWebhooksRequest]) (*connect.Response[communicationsv1.ListWebhooksResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	ws, err := h.store.Webhooks(ctx, community, false)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &communicationsv1.ListWebhooksResponse{}
	for _, w := range ws {
		res.Webhooks = append(res.Webhooks, webhookToProto(w))
	}
	return connect.NewResponse(res), nil
}

// DeleteWebhook removes a webhook; NotFound when the community has none of
// that id.
func (h *Handler) DeleteWebhook(ctx context.Context, req *connect.Request[communicationsv1.DeleteWebhookRequest]) (*connect.Response[communicationsv1.DeleteWebhookResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	id := req.Msg.GetId()
	if err := h.store.DeleteWebhook(ctx, community, id, h.record(ctx, community, "webhook.deleted", "webhook", id)); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.DeleteWebhookResponse{}), nil
}

func webhookToProto(w domain.Webhook) *communicationsv1.Webhook {
	format := map[domain.WebhookFormat]communicationsv1.WebhookFormat{
		domain.FormatGeneric: communicationsv1.WebhookFormat_WEBHOOK_FORMAT_GENERIC, domain.FormatSlack: communicationsv1.WebhookFormat_WEBHOOK_FORMAT_SLACK,
		domain.FormatDiscord: communicationsv1.WebhookFormat_WEBHOOK_FORMAT_DISCORD, domain.FormatMatrix: communicationsv1.WebhookFormat_WEBHOOK_FORMAT_MATRIX,
	}[w.Format]
	return &communicationsv1.Webhook{Id: w.ID, Community: w.Community, Url: redactURL(w.URL), Format: format, Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, CreatedAt: timestamppb.New(w.CreatedAt)}
}

// redactURL keeps a webhook URL's scheme and host: chat webhook URLs carry
// their credential in the path.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/…"
}
