package api

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/internal/webhooksig"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// Subscriptions implements SubscriptionsService on the Handler's store,
// audit log and outbound policy.
type Subscriptions struct {
	*Handler
	// wake tells the dispatcher a delivery is due (a replay).
	wake func()
}

var _ communicationsv1connect.SubscriptionsServiceHandler = Subscriptions{}

// NewSubscriptions returns the subscriptions API; wake (may be nil) is
// called when a replayed delivery is due.
func NewSubscriptions(h *Handler, wake func()) Subscriptions {
	return Subscriptions{Handler: h, wake: wake}
}

const (
	defaultPreviousValid = 24 * time.Hour
	maxPreviousValid     = 7 * 24 * time.Hour
)

var modes = map[communicationsv1.SubscriptionMode]domain.SubscriptionMode{
	communicationsv1.SubscriptionMode_SUBSCRIPTION_MODE_UNSPECIFIED: domain.ModeStructured,
	communicationsv1.SubscriptionMode_SUBSCRIPTION_MODE_STRUCTURED:  domain.ModeStructured,
	communicationsv1.SubscriptionMode_SUBSCRIPTION_MODE_BINARY:      domain.ModeBinary,
}

func (h Subscriptions) subscriptionError(ctx context.Context, spec connect.Spec, err error) error {
	if errors.Is(err, domain.ErrSubscriptionNotFound) || errors.Is(err, domain.ErrDeliveryNotFound) {
		return connect.NewError(connect.CodeNotFound, err)
	}
	return h.toConnect(ctx, spec, err)
}

// CreateSubscription subscribes an endpoint to event types.
func (h Subscriptions) CreateSubscription(ctx context.Context, req *connect.Request[communicationsv1.CreateSubscriptionRequest]) (*connect.Response[communicationsv1.CreateSubscriptionResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	mode, ok := modes[req.Msg.GetMode()]
	if !ok {
		return nil, h.toConnect(ctx, req.Spec(), validate.Field("mode", "must be SUBSCRIPTION_MODE_STRUCTURED or SUBSCRIPTION_MODE_BINARY"))
	}
	secret, err := webhooksig.NewSecret()
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	sub, err := domain.NewSubscription(domain.Subscription{ID: uuid.Must(uuid.NewV7()).String(), Community: community, URL: req.Msg.GetUrl(),
		EventTypes: req.Msg.GetEventTypes(), Mode: mode, IncludePersonalData: req.Msg.GetIncludePersonalData(), Secret: secret, CreatedAt: h.now()},
		h.opts.Destinations)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	caller, _ := auth.FromContext(ctx)
	if err := h.store.CreateSubscription(ctx, sub, caller.Subject, h.audit); err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "subscription created", "community", community, "subscription_id", sub.ID, "types", len(sub.EventTypes))
	return connect.NewResponse(&communicationsv1.CreateSubscriptionResponse{Subscription: subscriptionToProto(sub), Secret: secret}), nil
}

// ListSubscriptions lists the community's subscriptions.
func (h Subscriptions) ListSubscriptions(ctx context.Context, req *connect.Request[communicationsv1.ListSubscriptionsRequest]) (*connect.Response[communicationsv1.ListSubscriptionsResponse], error) {
	community, err := h.community(req.Msg.GetCommunity())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	subs, err := h.store.Subscriptions(ctx, community)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &communicationsv1.ListSubscriptionsResponse{}
	for _, s := range subs {
		res.Subscriptions = append(res.Subscriptions, subscriptionToProto(s))
	}
	return connect.NewResponse(res), nil
}

// target checks the community and the id a call is about.
func (h Subscriptions) target(rawCommunity, rawID string) (string, string, error) {
	community, err := h.community(rawCommunity)
	if err != nil {
		return "", "", err
	}
	id, ferr := validate.Text("id", rawID, 1, 100)
	if ferr != nil {
		return "", "", ferr
	}
	return community, id, nil
}

// DeleteSubscription stops a subscription.
func (h Subscriptions) DeleteSubscription(ctx context.Context, req *connect.Request[communicationsv1.DeleteSubscriptionRequest]) (*connect.Response[communicationsv1.DeleteSubscriptionResponse], error) {
	community, id, err := h.target(req.Msg.GetCommunity(), req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if err := h.store.DeleteSubscription(ctx, community, id, h.audit); err != nil {
		return nil, h.subscriptionError(ctx, req.Spec(), err)
	}
	h.logger.InfoContext(ctx, "subscription deleted", "community", community, "subscription_id", id)
	return connect.NewResponse(&communicationsv1.DeleteSubscriptionResponse{}), nil
}

// RotateSubscriptionSecret issues a new secret.
func (h Subscriptions) RotateSubscriptionSecret(ctx context.Context, req *connect.Request[communicationsv1.RotateSubscriptionSecretRequest]) (*connect.Response[communicationsv1.RotateSubscriptionSecretResponse], error) {
	community, id, err := h.target(req.Msg.GetCommunity(), req.Msg.GetId())
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
	secret, err := webhooksig.NewSecret()
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	sub, err := h.store.RotateSubscriptionSecret(ctx, community, id, secret, h.now().Add(valid), h.audit)
	if err != nil {
		return nil, h.subscriptionError(ctx, req.Spec(), err)
	}
	return connect.NewResponse(&communicationsv1.RotateSubscriptionSecretResponse{Subscription: subscriptionToProto(sub), Secret: secret}), nil
}

// ListSubscriptionDeliveries pages through a subscription's delivery log.
func (h Subscriptions) ListSubscriptionDeliveries(ctx context.Context, req *connect.Request[communicationsv1.ListSubscriptionDeliveriesRequest]) (*connect.Response[communicationsv1.ListSubscriptionDeliveriesResponse], error) {
	community, id, err := h.target(req.Msg.GetCommunity(), req.Msg.GetSubscriptionId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	if _, err := h.store.Subscription(ctx, community, id); err != nil {
		return nil, h.subscriptionError(ctx, req.Spec(), err)
	}
	size, err := rpc.PageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	before, err := rpc.DecodePageToken(community+":"+id, req.Msg.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	list, err := h.store.SubscriptionDeliveries(ctx, community, id, before, size+1)
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	res := &communicationsv1.ListSubscriptionDeliveriesResponse{}
	if len(list) > size {
		list = list[:size]
		res.NextPageToken = rpc.EncodePageToken(community+":"+id, list[size-1].ID)
	}
	for _, d := range list {
		res.Deliveries = append(res.Deliveries, subscriptionDeliveryToProto(d))
	}
	return connect.NewResponse(res), nil
}

// ReplaySubscriptionDelivery sends a delivery again.
func (h Subscriptions) ReplaySubscriptionDelivery(ctx context.Context, req *connect.Request[communicationsv1.ReplaySubscriptionDeliveryRequest]) (*connect.Response[communicationsv1.ReplaySubscriptionDeliveryResponse], error) {
	community, id, err := h.target(req.Msg.GetCommunity(), req.Msg.GetId())
	if err != nil {
		return nil, h.toConnect(ctx, req.Spec(), err)
	}
	d, err := h.store.ReplayDelivery(ctx, community, id, h.now(), h.audit)
	if err != nil {
		return nil, h.subscriptionError(ctx, req.Spec(), err)
	}
	if h.wake != nil {
		h.wake()
	}
	h.logger.InfoContext(ctx, "subscription delivery replayed", "community", community, "delivery_id", id)
	return connect.NewResponse(&communicationsv1.ReplaySubscriptionDeliveryResponse{Delivery: subscriptionDeliveryToProto(d)}), nil
}

func subscriptionToProto(s domain.Subscription) *communicationsv1.Subscription {
	out := &communicationsv1.Subscription{Id: s.ID, Endpoint: s.Endpoint(), EventTypes: s.EventTypes, IncludePersonalData: s.IncludePersonalData,
		CreatedAt: timestamppb.New(s.CreatedAt), Mode: communicationsv1.SubscriptionMode_SUBSCRIPTION_MODE_STRUCTURED}
	if s.Mode == domain.ModeBinary {
		out.Mode = communicationsv1.SubscriptionMode_SUBSCRIPTION_MODE_BINARY
	}
	if s.PreviousSecret != "" && !s.PreviousExpiresAt.IsZero() {
		out.PreviousSecretExpiresAt = timestamppb.New(s.PreviousExpiresAt)
	}
	return out
}

var deliveryStatuses = map[string]communicationsv1.SubscriptionDeliveryStatus{
	domain.DeliveryPending:   communicationsv1.SubscriptionDeliveryStatus_SUBSCRIPTION_DELIVERY_STATUS_PENDING,
	domain.DeliveryDelivered: communicationsv1.SubscriptionDeliveryStatus_SUBSCRIPTION_DELIVERY_STATUS_DELIVERED,
	domain.DeliveryFailed:    communicationsv1.SubscriptionDeliveryStatus_SUBSCRIPTION_DELIVERY_STATUS_FAILED,
}

func subscriptionDeliveryToProto(d domain.SubscriptionDelivery) *communicationsv1.SubscriptionDelivery {
	out := &communicationsv1.SubscriptionDelivery{Id: d.ID, SubscriptionId: d.SubscriptionID, EventId: d.EventID, EventType: d.EventType,
		Status: deliveryStatuses[d.Status], Attempts: int32(d.Attempts), LastStatusCode: int32(d.LastStatus), LastError: d.LastError,
		CreatedAt: timestamppb.New(d.CreatedAt)}
	if d.Status == domain.DeliveryPending {
		out.NextAttemptAt = timestamppb.New(d.NextAttemptAt)
	}
	if !d.DeliveredAt.IsZero() {
		out.DeliveredAt = timestamppb.New(d.DeliveredAt)
	}
	return out
}
