package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The operator calls each instance's insights service as a workload: with
// a short-lived token of its own service account for the instance's
// workload audience, minted with the TokenRequest API. Its RBAC allows
// exactly that: create on serviceaccounts/token of its own service
// account, in its own namespace.
//
// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create,resourceNames=kinship-operator,namespace=kinship-system

// workloadTokenLifetime is how long a minted token lives: the shortest
// the API server grants.
const workloadTokenLifetime = 10 * time.Minute

// WorkloadTokens mints tokens of one service account and keeps each
// audience's until half its life is gone.
type WorkloadTokens struct {
	client    client.Client
	namespace string
	name      string
	now       func() time.Time

	mu     sync.Mutex
	tokens map[string]workloadToken // by audience
}

type workloadToken struct {
	token          string
	issued, expiry time.Time
}

// NewWorkloadTokens returns tokens of the service account namespace/name,
// minted through c.
func NewWorkloadTokens(c client.Client, namespace, name string) *WorkloadTokens {
	return &WorkloadTokens{client: c, namespace: namespace, name: name, now: time.Now, tokens: map[string]workloadToken{}}
}

// Token returns a token for audience, minting one when none is kept or
// the kept one is past half its life.
func (w *WorkloadTokens) Token(ctx context.Context, audience string) (string, error) {
	now := w.now()
	w.mu.Lock()
	t, ok := w.tokens[audience]
	w.mu.Unlock()
	if ok && now.Before(t.issued.Add(t.expiry.Sub(t.issued)/2)) {
		return t.token, nil
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: w.namespace, Name: w.name}}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         []string{audience},
		ExpirationSeconds: ptr.To(int64(workloadTokenLifetime / time.Second)),
	}}
	if err := w.client.SubResource("token").Create(ctx, sa, req); err != nil {
		return "", fmt.Errorf("request a token of service account %s/%s: %w", w.namespace, w.name, err)
	}
	if req.Status.Token == "" {
		return "", fmt.Errorf("request a token of service account %s/%s: the API server returned none", w.namespace, w.name)
	}
	t = workloadToken{token: req.Status.Token, issued: now, expiry: req.Status.ExpirationTimestamp.Time}
	if !t.expiry.After(now) {
		t.expiry = now.Add(workloadTokenLifetime)
	}
	w.mu.Lock()
	w.tokens[audience] = t
	w.mu.Unlock()
	return t.token, nil
}
