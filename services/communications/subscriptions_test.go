package communications_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/webhooksig"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
)

// endpoint is an organiser's endpoint: it keeps what it is sent and
// answers with the statuses it is told to, then 200.
type endpoint struct {
	*httptest.Server
	mu       sync.Mutex
	requests []endpointRequest
	statuses []int
}

type endpointRequest struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newEndpoint(t *testing.T, statuses ...int) *endpoint {
	r := &endpoint{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, endpointRequest{header: req.Header.Clone(), body: body, at: time.Now()})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *endpoint) got() []endpointRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

func (r *endpoint) answer(statuses ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = statuses
}

// Organisers subscribe endpoints to event types; each event goes to each
// subscriber once as a signed CloudEvent (structured or binary), without
// personal data unless the subscription asks for it; failures are retried
// with backoff, a delivery that kept failing can be replayed, and a secret
// can be rotated with both secrets signing for a while. Internal
// destinations and unknown types are refused.
func TestDomainWebhooks(t *testing.T) {
	f := start(t, options{communities: []string{"demo", "other"}, subscriptionRetryBase: 20 * time.Millisecond, subscriptionMaxAttempts: 2})
	ctx := context.Background()
	subs := communicationsv1connect.NewSubscriptionsServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.For(t, "demo", "organiser")))
	create := func(url string, types []string, mode communicationsv1.SubscriptionMode, personal bool) (*communicationsv1.Subscription, string) {
		t.Helper()
		res, err := subs.CreateSubscription(ctx, connect.NewRequest(&communicationsv1.CreateSubscriptionRequest{Community: "demo", Url: url,
			EventTypes: types, Mode: mode, IncludePersonalData: personal}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetSubscription(), res.Msg.GetSecret()
	}
	deliveries := func(id string) []*communicationsv1.SubscriptionDelivery {
		t.Helper()
		res, err := subs.ListSubscriptionDeliveries(ctx, connect.NewRequest(&communicationsv1.ListSubscriptionDeliveriesRequest{Community: "demo", SubscriptionId: id}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetDeliveries()
	}

	t.Run("unknown types and internal destinations are refused", func(t *testing.T) {
		for field, req := range map[string]*communicationsv1.CreateSubscriptionRequest{
			"event_types": {Community: "demo", Url: "https://hooks.example.org/x", EventTypes: []string{"member.joined", "member.exploded"}},
			"url":         {Community: "demo", Url: "https://169.254.169.254/latest/meta-data", EventTypes: []string{"member.joined"}},
		} {
			_, err := subs.CreateSubscription(ctx, connect.NewRequest(req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Equal(rpc.FieldViolations(err), []string{field}) {
				t.Errorf("%s: %v, want InvalidArgument on %s", field, err, field)
			}
		}
		if !strings.Contains(func() string {
			_, err := subs.CreateSubscription(ctx, connect.NewRequest(&communicationsv1.CreateSubscriptionRequest{Community: "demo", Url: "https://hooks.example.org/x",
				EventTypes: []string{"member.exploded"}}))
			return err.Error()
		}(), "member.joined") {
			t.Error("the refusal of an unknown type does not list the types there are")
		}
	})

	plain, withPII, flaky := newEndpoint(t), newEndpoint(t, http.StatusServiceUnavailable), newEndpoint(t)
	a, secretA := create(plain.URL+"/kinship?token=abc", []string{"member.joined"}, communicationsv1.SubscriptionMode_SUBSCRIPTION_MODE_STRUCTURED, false)
	b, secretB := create(withPII.URL, []string{"member.joined", "member.left"}, communicationsv1.SubscriptionMode_SUBSCRIPTION_MODE_BINARY, true)
	if a.GetEndpoint() != plain.URL || slices.Contains(a.GetEventTypes(), "member.left") {
		t.Errorf("subscription a = %v (the endpoint shows scheme and host only)", a)
	}

	adaJoined := joined(t, "ada", "ada@example.org", "Ada Lovelace", true, true, nil)
	f.publish(t, adaJoined, adaJoined) // a redelivery

	t.Run("a structured CloudEvent, signed, without personal data, once", func(t *testing.T) {
		eventually(t, "the join reaches the plain endpoint", func() bool { return len(plain.got()) == 1 })
		r := plain.got()[0]
		id, err := webhooksig.Verify(r.header, r.body, time.Now(), 0, secretA)
		if err != nil || id != deliveries(a.GetId())[0].GetId() {
			t.Errorf("signature: %q, %v", id, err)
		}
		var ce struct {
			SpecVersion, ID, Type, Source, DataContentType string
			Data                                           map[string]any
		}
		if err := json.Unmarshal(r.body, &ce); err != nil || r.header.Get("Content-Type") != "application/cloudevents+json" ||
			ce.SpecVersion != "1.0" || ce.Type != memberevents.TypeMemberJoined || ce.ID != adaJoined.ID || ce.Data["memberId"] != "ada" {
			t.Errorf("structured event = %s (%v)", r.body, err)
		}
		if strings.Contains(string(r.body), "ada@example.org") || strings.Contains(string(r.body), "Lovelace") {
			t.Errorf("personal data in a subscription that did not ask for it: %s", r.body)
		}
		if r.header.Get("webhook-id") == "" || r.header.Get("webhook-timestamp") == "" {
			t.Errorf("headers = %v", r.header)
		}
	})

	t.Run("a failure is retried; binary mode carries the attributes in headers", func(t *testing.T) {
		eventually(t, "the second attempt succeeds", func() bool { return len(withPII.got()) == 2 })
		got := withPII.got()
		if got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") {
			t.Error("a retry changed its webhook-id")
		}
		r := got[1]
		if _, err := webhooksig.Verify(r.header, r.body, time.Now(), 0, secretB); err != nil {
			t.Errorf("signature: %v", err)
		}
		if r.header.Get("ce-type") != memberevents.TypeMemberJoined || r.header.Get("ce-id") != adaJoined.ID || r.header.Get("ce-specversion") != "1.0" ||
			!strings.Contains(string(r.body), "ada@example.org") {
			t.Errorf("binary event: headers %v body %s", r.header, r.body)
		}
		eventually(t, "the log says delivered", func() bool {
			d := deliveries(b.GetId())
			return len(d) == 1 && d[0].GetStatus() == communicationsv1.SubscriptionDeliveryStatus_SUBSCRIPTION_DELIVERY_STATUS_DELIVERED && d[0].GetAttempts() == 2
		})
	})

	t.Run("a delivery that kept failing is replayed", func(t *testing.T) {
		flaky.answer(http.StatusInternalServerError, http.StatusInternalServerError)
		c, _ := create(flaky.URL, []string{"member.left"}, communicationsv1.SubscriptionMode_SUBSCRIPTION_MODE_STRUCTURED, false)
		f.publish(t, memberEvent(t, memberevents.TypeMemberLeft, "demo", "ada", &membersv1.MemberLeft{MemberId: "ada", Community: "demo", LeftAt: timestamppb.Now()}))
		var failed *communicationsv1.SubscriptionDelivery
		eventually(t, "the delivery fails after its attempts", func() bool {
			d := deliveries(c.GetId())
			if len(d) == 1 && d[0].GetStatus() == communicationsv1.SubscriptionDeliveryStatus_SUBSCRIPTION_DELIVERY_STATUS_FAILED {
				failed = d[0]
			}
			return failed != nil
		})
		if failed.GetAttempts() != 2 || failed.GetLastStatusCode() != 500 || failed.GetLastError() != "answered 500" {
			t.Errorf("failed delivery = %v", failed)
		}
		if _, err := subs.ReplaySubscriptionDelivery(ctx, connect.NewRequest(&communicationsv1.ReplaySubscriptionDeliveryRequest{Community: "demo", Id: failed.GetId()})); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the replay is delivered", func() bool {
			d := deliveries(c.GetId())
			return d[0].GetStatus() == communicationsv1.SubscriptionDeliveryStatus_SUBSCRIPTION_DELIVERY_STATUS_DELIVERED
		})
	})

	t.Run("after a rotation both secrets sign until the old one expires", func(t *testing.T) {
		rotated, err := subs.RotateSubscriptionSecret(ctx, connect.NewRequest(&communicationsv1.RotateSubscriptionSecretRequest{Community: "demo", Id: a.GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		f.publish(t, joined(t, "bea", "bea@example.org", "Bea", true, true, nil))
		eventually(t, "bea's join reaches the plain endpoint", func() bool { return len(plain.got()) == 2 })
		r := plain.got()[1]
		for _, secret := range []string{secretA, rotated.Msg.GetSecret()} {
			if _, err := webhooksig.Verify(r.header, r.body, time.Now(), 0, secret); err != nil {
				t.Errorf("not verifiable with one of the secrets: %v", err)
			}
		}
	})

	t.Run("another community cannot see or touch demo's subscriptions", func(t *testing.T) {
		other := communicationsv1connect.NewSubscriptionsServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.For(t, "other", "organiser")))
		list, err := other.ListSubscriptions(ctx, connect.NewRequest(&communicationsv1.ListSubscriptionsRequest{Community: "other"}))
		if err != nil || len(list.Msg.GetSubscriptions()) != 0 {
			t.Errorf("other's list = %v, %v", list, err)
		}
		deliveryID := deliveries(a.GetId())[0].GetId()
		for name, call := range map[string]func() error{
			"delete": func() error {
				_, err := other.DeleteSubscription(ctx, connect.NewRequest(&communicationsv1.DeleteSubscriptionRequest{Community: "other", Id: a.GetId()}))
				return err
			},
			"rotate": func() error {
				_, err := other.RotateSubscriptionSecret(ctx, connect.NewRequest(&communicationsv1.RotateSubscriptionSecretRequest{Community: "other", Id: a.GetId()}))
				return err
			},
			"list deliveries": func() error {
				_, err := other.ListSubscriptionDeliveries(ctx, connect.NewRequest(&communicationsv1.ListSubscriptionDeliveriesRequest{Community: "other", SubscriptionId: a.GetId()}))
				return err
			},
			"replay": func() error {
				_, err := other.ReplaySubscriptionDelivery(ctx, connect.NewRequest(&communicationsv1.ReplaySubscriptionDeliveryRequest{Community: "other", Id: deliveryID}))
				return err
			},
		} {
			if err := call(); connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("%s with demo's id = %v, want NotFound", name, err)
			}
		}
		// Other's own events never reach demo's subscribers.
		f.publish(t, memberEvent(t, memberevents.TypeMemberJoined, "other", "zed", &membersv1.MemberJoined{MemberId: "zed", Community: "other", Email: "zed@example.org",
			JoinedAt: timestamppb.Now(), EmailVerified: true}))
		f.publish(t, joined(t, "cai", "cai@example.org", "Cai", true, true, nil))
		eventually(t, "cai's join arrives", func() bool { return len(plain.got()) == 3 })
		for _, r := range plain.got() {
			if strings.Contains(string(r.body), "zed") {
				t.Errorf("other's event reached demo's subscriber: %s", r.body)
			}
		}
	})

	t.Run("erasing a member empties what the log kept about them", func(t *testing.T) {
		worker := communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.Workload(t)))
		if _, err := worker.ForgetMember(ctx, connect.NewRequest(&communicationsv1.ForgetMemberRequest{Community: "demo", MemberId: "ada"})); err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, "SELECT count(*) FROM subscription_deliveries WHERE data LIKE '%ada@example.org%'"); n != 0 {
			t.Errorf("%d deliveries still hold ada's address", n)
		}
	})
}
