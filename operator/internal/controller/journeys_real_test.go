package controller

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/service"
	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/external"
	"github.com/kinshiphq/kinship/operator/internal/external/externaltest"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
)

// journeysRouter sends the journey calls for a Community a test routed to
// a real journeys API there (through the client it gave), and every other
// call to the fake.
type journeysRouter struct {
	fake *externaltest.Journeys
	mu   sync.Mutex
	real map[string]realJourneys // by community
}

type realJourneys struct {
	url    string
	client external.Journeys
}

// route sends community's journey calls to the journeys API at url,
// through client, until the test ends.
func (j *journeysRouter) route(t testing.TB, community, url string, client external.Journeys) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.real[community] = realJourneys{url: url, client: client}
	t.Cleanup(func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		delete(j.real, community)
	})
}

func (j *journeysRouter) pick(target external.JourneysTarget) (external.Journeys, external.JourneysTarget) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if r, ok := j.real[target.Community]; ok {
		target.URL = r.url
		return r.client, target
	}
	return j.fake, target
}

func (j *journeysRouter) CurrentDefinition(ctx context.Context, target external.JourneysTarget, kind string) (external.Definition, error) {
	c, t := j.pick(target)
	return c.CurrentDefinition(ctx, t, kind)
}

func (j *journeysRouter) SaveDefinition(ctx context.Context, target external.JourneysTarget, kind, document string) (external.Definition, error) {
	c, t := j.pick(target)
	return c.SaveDefinition(ctx, t, kind, document)
}

func (j *journeysRouter) PublishDefinition(ctx context.Context, target external.JourneysTarget, kind string, version int32) (external.Definition, error) {
	c, t := j.pick(target)
	return c.PublishDefinition(ctx, t, kind, version)
}

// lookingJourneys counts how often the operator looked at the worker's
// current definitions.
type lookingJourneys struct {
	external.Journeys
	looks atomic.Int64
}

func (l *lookingJourneys) CurrentDefinition(ctx context.Context, target external.JourneysTarget, kind string) (external.Definition, error) {
	l.looks.Add(1)
	return l.Journeys.CurrentDefinition(ctx, target, kind)
}

// noTemplates is a communications service whose community has no
// templates of its own: definitions may name Kinship's default ones only.
type noTemplates struct {
	communicationsv1connect.UnimplementedTemplatesServiceHandler
}

func (noTemplates) ListTemplates(context.Context, *connect.Request[communicationsv1.ListTemplatesRequest]) (*connect.Response[communicationsv1.ListTemplatesResponse], error) {
	return connect.NewResponse(&communicationsv1.ListTemplatesResponse{}), nil
}

// startJourneysAPI serves the worker's journeys API for community as the
// worker mounts it (workflows/api.go): the real handler and guard, the
// real definitions store and audit log on SQLite, trusting the
// operator's service-account tokens. The definitions RPCs never reach
// Temporal; the namespace's client is lazy and points nowhere, so a call
// that did would fail. Templates come from a communications service with
// none of the community's own.
func startJourneysAPI(t *testing.T, community string) (string, *definitions.Store) {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "worker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := db.Migrate(ctx, d, logger, audit.Migrations(), definitions.Migrations()); err != nil {
		t.Fatal(err)
	}
	store := definitions.New(d, audit.New(d))
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Namespace: community, Logger: tlog.NewStructuredLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	comms := http.NewServeMux()
	comms.Handle(communicationsv1connect.NewTemplatesServiceHandler(noTemplates{}))
	commsSrv := httptest.NewServer(comms)
	t.Cleanup(commsSrv.Close)

	tokens, err := service.Tokens("worker", trustOperatorTokens(t))
	if err != nil {
		t.Fatal(err)
	}
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Policy: journeysapi.Policy(), Logger: logger})
	handler := journeysapi.New(journeysapi.Options{
		Temporal: map[string]client.Client{community: tc}, Store: store, Logger: logger,
		Templates: communicationsv1connect.NewTemplatesServiceClient(http.DefaultClient, commsSrv.URL),
	})
	mux := http.NewServeMux()
	mux.Handle(journeysv1connect.NewJourneysServiceHandler(handler, rpc.HandlerOptions(noop.NewTracerProvider(), logger, guard)...))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, store
}

// TestJourneysSeedTheRealJourneysAPI runs a Community's spec.journeys
// through the worker's real journeys API over HTTP, as in a cluster: the
// operator presents a token of its own service account (TokenRequest)
// for the instance's workload audience, the worker checks it against the
// API server's issuer and trusts the operator's subject, and keeps each
// definition as a published seed — recorded as the operator's, with
// source "seed", and normalised as the worker keeps documents — once: an
// unchanged resource saves nothing more. An organiser's version gives way
// to the resource's again, and a definition the worker refuses leaves
// JourneysSynced False, naming the step.
func TestJourneysSeedTheRealJourneysAPI(t *testing.T) {
	ctx := context.Background()
	const name = "realjourneys"
	base, store := startJourneysAPI(t, name)
	client := &lookingJourneys{Journeys: external.NewJourneysClient(NewWorkloadTokens(env.reconciler.Client, secretsNamespace, operatorServiceAccount).Token, 10*time.Second)}
	env.journeysRoutes.route(t, name, base, client)

	onboardingDoc := `{"steps": [{"id": "welcome", "kind": "send", "template": "onboarding-welcome"}, {"id": "end", "kind": "end", "outcome": "onboarded"}]}`
	f := newFixture(t, name)
	f.community.Spec.Journeys = kinshipv1alpha1.JourneysSpec{Onboarding: raw(onboardingDoc), Ambassador: raw(programmeV1)}
	f.create(t)
	f.cleanup(t)
	f.waitReady(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionTrue, "Synced")

	kinds := []string{definitions.KindOnboarding, definitions.KindAmbassador}
	for _, kind := range kinds {
		v, err := store.Get(ctx, name, kind, 0)
		if err != nil {
			t.Fatalf("the worker's current %s: %v", kind, err)
		}
		if v.Version != 1 || !v.Current || v.Source != definitions.SourceSeed || v.SavedByKind != string(auth.KindWorkload) || v.SavedBy != operatorUser() {
			t.Errorf("the worker keeps %s version %d (current %v) from %s, saved by %s %s; want version 1, current, a seed by the operator",
				kind, v.Version, v.Current, v.Source, v.SavedByKind, v.SavedBy)
		}
		if got := f.journeysOf(t)[kinshipv1alpha1.JourneyKind(kind)]; got.Version != 1 || got.WorkerDigest != digest(v.Document) {
			t.Errorf("status.journeys %s = %+v; want version 1 with the worker's document's digest", kind, got)
		}
	}
	if v, _ := store.Get(ctx, name, definitions.KindAmbassador, 0); !strings.Contains(v.Document, `"approvals": 1`) || !strings.Contains(v.Document, `"m-reviewer"`) {
		t.Errorf("the worker keeps the programme as %s", v.Document)
	}

	// Unchanged, the resource is looked at again and nothing is saved.
	looks := client.looks.Load()
	f.nudge(t)
	eventually(t, 20*time.Second, func() error {
		if now := client.looks.Load(); now < looks+4 {
			return fmt.Errorf("%d looks at the worker, %d before", now, looks)
		}
		return nil
	})
	for _, kind := range kinds {
		if versions, err := store.List(ctx, name, kind, 0, 100); err != nil || len(versions) != 1 {
			t.Errorf("%s: %d versions after resyncs (%v); want the one seed", kind, len(versions), err)
		}
	}

	// An organiser publishes a version of their own; the resource's comes
	// back as the current one, without a new version.
	organiser := auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindUser, Subject: "u-organiser", Community: name,
		Roles: []auth.Role{auth.Organiser}}, auth.ScopeCommunity)
	own, err := store.Save(organiser, name, definitions.KindOnboarding,
		`{"steps": [{"id": "hi", "kind": "send", "template": "onboarding-welcome"}, {"id": "end", "kind": "end"}]}`, true, 0)
	if err != nil || own.Source != definitions.SourceAPI {
		t.Fatalf("the organiser's version: %+v, %v", own, err)
	}
	f.nudge(t)
	eventually(t, 30*time.Second, func() error {
		v, err := store.Get(ctx, name, definitions.KindOnboarding, 0)
		if err != nil || v.Version != 1 {
			return fmt.Errorf("current onboarding version %d (%v); want the resource's, 1", v.Version, err)
		}
		return nil
	})

	// A template the community lacks: refused, naming the step.
	f.update(t, func(c *kinshipv1alpha1.Community) {
		c.Spec.Journeys.Onboarding = raw(`{"steps": [{"id": "hello", "kind": "send", "template": "nope"}, {"id": "end", "kind": "end"}]}`)
	})
	f.waitCondition(t, kinshipv1alpha1.ConditionJourneysSynced, metav1.ConditionFalse, reasonInvalidDefinition)
	if msg := f.condition(t, kinshipv1alpha1.ConditionJourneysSynced).Message; !strings.Contains(msg, "steps[hello].template") {
		t.Errorf("JourneysSynced says %q; want the step named", msg)
	}
	if versions, err := store.List(ctx, name, definitions.KindOnboarding, 0, 100); err != nil || len(versions) != 2 {
		t.Errorf("a refused definition left %d onboarding versions (%v); want the seed and the organiser's", len(versions), err)
	}
}
