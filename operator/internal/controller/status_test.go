package controller

import (
	"context"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// countingReader counts the reads that go to the API server.
type countingReader struct {
	client.Reader
	gets atomic.Int32
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets.Add(1)
	return c.Reader.Get(ctx, key, obj, opts...)
}

// statusFixture is a reconciler whose API server is controller-runtime's
// fake client; the test hands writeStatus the Community as a cache that
// lags behind would have it.
func statusFixture(t *testing.T) (*CommunityReconciler, *countingReader, client.Client, *kinshipv1alpha1.Community) {
	t.Helper()
	c := &kinshipv1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: "stale", UID: "uid-stale", Generation: 1}}
	api := fake.NewClientBuilder().WithScheme(env.scheme).
		WithObjects(c).WithStatusSubresource(&kinshipv1alpha1.Community{}).Build()
	reader := &countingReader{Reader: api}
	r := &CommunityReconciler{Client: api, APIReader: reader, Scheme: env.scheme, Recorder: &events.FakeRecorder{}, Logger: env.logger}
	return r, reader, api, c
}

// everythingReady is what a reconcile reports when every part is there;
// rolling marks the workloads as waiting for a rollout.
func everythingReady(c *kinshipv1alpha1.Community, rolling bool) *statusBuilder {
	st := newStatusBuilder(c)
	for _, t := range partConditions() {
		st.ok(t, "Ready", "ready")
	}
	if rolling {
		st.waiting(kinshipv1alpha1.ConditionWorkloadsReady, "ReplicasNotReady", "ready replicas: communications 2/2")
	}
	return st
}

func readyOnAPIServer(t *testing.T, api client.Client) *metav1.Condition {
	t.Helper()
	var live kinshipv1alpha1.Community
	if err := api.Get(context.Background(), client.ObjectKey{Name: "stale"}, &live); err != nil {
		t.Fatal(err)
	}
	return meta.FindStatusCondition(live.Status.Conditions, kinshipv1alpha1.ConditionReady)
}

func cached(t *testing.T, api client.Client) *kinshipv1alpha1.Community {
	t.Helper()
	var c kinshipv1alpha1.Community
	if err := api.Get(context.Background(), client.ObjectKey{Name: "stale"}, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// A reconcile that runs before the cache has seen the operator's own last
// status write must still write the status it finds. This is how
// TestCommunicationsKeysAreKept failed now and then: new keys rolled the
// communications Deployment and the status went to NotReady; the stand-in
// deployment controller reported the rollout done, and the reconcile that
// event triggered found everything ready — but compared that with the
// cached, not yet updated status, which still said Ready, and wrote nothing.
// Status changes do not wake the controller, so the Community stayed
// NotReady.
func TestStatusIsWrittenWhenTheCacheLagsBehindTheLastWrite(t *testing.T) {
	ctx := context.Background()
	r, reader, api, c := statusFixture(t)

	if err := r.writeStatus(ctx, c.DeepCopy(), everythingReady(c, false)); err != nil {
		t.Fatal(err)
	}
	lagging := cached(t, api) // Ready; the cache stays here

	if err := r.writeStatus(ctx, lagging.DeepCopy(), everythingReady(lagging, true)); err != nil {
		t.Fatal(err)
	}
	if cond := readyOnAPIServer(t, api); cond.Status != metav1.ConditionFalse {
		t.Fatalf("after the rollout started Ready is %s/%s, want False", cond.Status, cond.Reason)
	}

	// The rollout is done; the cache still shows the status from before it.
	if err := r.writeStatus(ctx, lagging.DeepCopy(), everythingReady(lagging, false)); err != nil {
		t.Fatal(err)
	}
	if cond := readyOnAPIServer(t, api); cond.Status != metav1.ConditionTrue {
		t.Fatalf("the status built on a cache that lags behind was not written: Ready is %s/%s (%s), want True",
			cond.Status, cond.Reason, cond.Message)
	}

	// Once the cache has caught up, an unchanged status costs no request.
	current := cached(t, api)
	before := reader.gets.Load()
	if err := r.writeStatus(ctx, current.DeepCopy(), everythingReady(current, false)); err != nil {
		t.Fatal(err)
	}
	if n := reader.gets.Load() - before; n != 0 {
		t.Errorf("an unchanged status on an up-to-date cache read the API server %d times", n)
	}
}

// A freshly started operator knows no status yet: it does not trust a
// cache that may lag behind the previous leader's last write.
func TestStatusIsReadFromTheAPIServerAfterARestart(t *testing.T) {
	ctx := context.Background()
	previous, _, api, c := statusFixture(t)
	if err := previous.writeStatus(ctx, c.DeepCopy(), everythingReady(c, false)); err != nil {
		t.Fatal(err)
	}
	lagging := cached(t, api)
	if err := previous.writeStatus(ctx, lagging.DeepCopy(), everythingReady(lagging, true)); err != nil {
		t.Fatal(err)
	}

	restarted := &CommunityReconciler{Client: api, APIReader: api, Scheme: env.scheme, Recorder: &events.FakeRecorder{}, Logger: env.logger}
	if err := restarted.writeStatus(ctx, lagging.DeepCopy(), everythingReady(lagging, false)); err != nil {
		t.Fatal(err)
	}
	if cond := readyOnAPIServer(t, api); cond.Status != metav1.ConditionTrue {
		t.Fatalf("Ready is %s/%s, want True", cond.Status, cond.Reason)
	}
}
