package external

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
)

// worker answers the journeys API as a worker would, remembering what it
// was asked.
type worker struct {
	journeysv1connect.UnimplementedJourneysServiceHandler
	auth    []string
	saved   *journeysv1.SaveDefinitionRequest
	refuse  string
	missing bool
}

func (w *worker) GetDefinition(_ context.Context, req *connect.Request[journeysv1.GetDefinitionRequest]) (*connect.Response[journeysv1.GetDefinitionResponse], error) {
	w.auth = append(w.auth, req.Header().Get("Authorization"))
	if w.missing {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such definition version"))
	}
	return connect.NewResponse(&journeysv1.GetDefinitionResponse{Definition: &journeysv1.DefinitionVersion{
		Kind: req.Msg.GetKind(), Version: 4, Document: `{"steps": []}`, Current: true}}), nil
}

func (w *worker) SaveDefinition(_ context.Context, req *connect.Request[journeysv1.SaveDefinitionRequest]) (*connect.Response[journeysv1.SaveDefinitionResponse], error) {
	w.auth = append(w.auth, req.Header().Get("Authorization"))
	w.saved = req.Msg
	if w.refuse != "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New(w.refuse))
	}
	return connect.NewResponse(&journeysv1.SaveDefinitionResponse{Definition: &journeysv1.DefinitionVersion{
		Kind: req.Msg.GetKind(), Version: 5, Document: req.Msg.GetDocument(), Current: true, Published: true}}), nil
}

func (w *worker) PublishDefinition(_ context.Context, req *connect.Request[journeysv1.PublishDefinitionRequest]) (*connect.Response[journeysv1.PublishDefinitionResponse], error) {
	w.auth = append(w.auth, req.Header().Get("Authorization"))
	if req.Msg.GetVersion() > 5 {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such definition version"))
	}
	return connect.NewResponse(&journeysv1.PublishDefinitionResponse{Definition: &journeysv1.DefinitionVersion{
		Kind: req.Msg.GetKind(), Version: req.Msg.GetVersion(), Current: true}}), nil
}

func newWorker(t *testing.T) (*worker, JourneysTarget, *JourneysClient) {
	t.Helper()
	w := &worker{}
	mux := http.NewServeMux()
	mux.Handle(journeysv1connect.NewJourneysServiceHandler(w))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tokens := func(_ context.Context, audience string) (string, error) { return "token-for-" + audience, nil }
	return w, JourneysTarget{URL: srv.URL, Community: "demo", Audience: "kinship-workload"}, NewJourneysClient(tokens, 5*time.Second)
}

// The client calls the worker's journeys API with the operator's workload
// token for the instance's audience, saves with publish set, and turns
// the worker's answers into what the controller acts on: a refusal with
// the worker's message, or no such version.
func TestJourneysClientSpeaksTheJourneysAPI(t *testing.T) {
	ctx := context.Background()
	t.Run("current version", func(t *testing.T) {
		w, target, c := newWorker(t)
		d, err := c.CurrentDefinition(ctx, target, KindAmbassador)
		if err != nil || d.Version != 4 || d.Kind != KindAmbassador || !d.Current || d.Document != `{"steps": []}` {
			t.Fatalf("CurrentDefinition = %+v, %v", d, err)
		}
		if len(w.auth) != 1 || w.auth[0] != "Bearer token-for-kinship-workload" {
			t.Errorf("the worker saw Authorization %q", w.auth)
		}
	})
	t.Run("no current version", func(t *testing.T) {
		w, target, c := newWorker(t)
		w.missing = true
		if _, err := c.CurrentDefinition(ctx, target, KindOnboarding); !errors.Is(err, ErrNoDefinition) {
			t.Errorf("CurrentDefinition of nothing: %v, want ErrNoDefinition", err)
		}
	})
	t.Run("saved and published", func(t *testing.T) {
		w, target, c := newWorker(t)
		d, err := c.SaveDefinition(ctx, target, KindOnboarding, `{"steps": [{"id": "a"}]}`)
		if err != nil || d.Version != 5 || !d.Current {
			t.Fatalf("SaveDefinition = %+v, %v", d, err)
		}
		s := w.saved
		if s.GetCommunity() != "demo" || s.GetKind() != journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING || !s.GetPublish() ||
			s.GetBaseVersion() != 0 || s.GetDocument() != `{"steps": [{"id": "a"}]}` {
			t.Errorf("the worker was asked to save %v", s)
		}
	})
	t.Run("refused", func(t *testing.T) {
		w, target, c := newWorker(t)
		w.refuse = "steps[welcome].template: template \"welcom\" is not a template of the community"
		_, err := c.SaveDefinition(ctx, target, KindOnboarding, `{"steps": []}`)
		var refused *DefinitionRefusedError
		if !errors.As(err, &refused) || refused.Message != w.refuse {
			t.Errorf("a refusal came back as %v", err)
		}
	})
	t.Run("republished", func(t *testing.T) {
		_, target, c := newWorker(t)
		if d, err := c.PublishDefinition(ctx, target, KindAmbassador, 3); err != nil || d.Version != 3 || !d.Current {
			t.Errorf("PublishDefinition = %+v, %v", d, err)
		}
		if _, err := c.PublishDefinition(ctx, target, KindAmbassador, 9); !errors.Is(err, ErrNoDefinition) {
			t.Errorf("publishing a version the worker lacks: %v, want ErrNoDefinition", err)
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		w, target, c := newWorker(t)
		if _, err := c.SaveDefinition(ctx, target, "welcome", `{}`); err == nil || len(w.auth) != 0 {
			t.Errorf("a kind that is none: %v after %d calls", err, len(w.auth))
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		_, target, c := newWorker(t)
		target.URL = "http://127.0.0.1:1"
		_, err := c.CurrentDefinition(ctx, target, KindOnboarding)
		var refused *DefinitionRefusedError
		if err == nil || errors.As(err, &refused) || errors.Is(err, ErrNoDefinition) {
			t.Errorf("an unreachable worker: %v, want a plain error", err)
		}
	})
}
