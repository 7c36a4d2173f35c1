package external

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
)

// JourneysTarget is one community's worker, which serves the journeys API.
type JourneysTarget struct {
	// URL is the worker's base URL, such as
	// http://worker.kinship-<name>.svc:8083.
	URL string
	// Community is the community's name.
	Community string
	// Audience is the audience the worker wants on workload tokens
	// (spec.auth.workloadAudience).
	Audience string
}

// Kinds of journey definition, as the Community's spec.journeys names
// them.
const (
	KindOnboarding = "onboarding"
	KindAmbassador = "ambassador"
)

// Definition is one version of a community's definition of a kind.
type Definition struct {
	Kind    string
	Version int32
	// Document is the definition as JSON, as the worker keeps it.
	Document string
	// Current: new journeys (nominations) take this version now.
	Current bool
}

// ErrNoDefinition is the worker holding no such definition version: none
// is current yet, or the version named is gone.
var ErrNoDefinition = errors.New("no such definition version")

// DefinitionRefusedError is the worker refusing a definition as it is (an
// unknown step kind, a template the community lacks): saving it again
// unchanged gives the same answer. Message names the step or setting,
// such as steps[welcome].template.
type DefinitionRefusedError struct{ Message string }

func (e *DefinitionRefusedError) Error() string {
	return "the worker refused the definition: " + e.Message
}

// Journeys keeps a community's journey definitions in its worker.
type Journeys interface {
	// CurrentDefinition is the community's current version of kind;
	// ErrNoDefinition when none is.
	CurrentDefinition(ctx context.Context, target JourneysTarget, kind string) (Definition, error)
	// SaveDefinition keeps document as the next version of kind and
	// publishes it. A refusal is a *DefinitionRefusedError.
	SaveDefinition(ctx context.Context, target JourneysTarget, kind, document string) (Definition, error)
	// PublishDefinition makes a saved version the current one;
	// ErrNoDefinition when the worker has no such version.
	PublishDefinition(ctx context.Context, target JourneysTarget, kind string, version int32) (Definition, error)
}

// JourneysClient calls the worker's JourneysService over Connect with a
// workload token of the operator's own, each call bounded by a timeout.
type JourneysClient struct {
	tokens  TokenSource
	timeout time.Duration
	http    *http.Client
}

var _ Journeys = (*JourneysClient)(nil)

// NewJourneysClient returns a client presenting tokens from tokens, each
// call taking at most timeout.
func NewJourneysClient(tokens TokenSource, timeout time.Duration) *JourneysClient {
	return &JourneysClient{tokens: tokens, timeout: timeout, http: &http.Client{Timeout: timeout}}
}

// CurrentDefinition calls JourneysService.GetDefinition for the current
// version.
func (c *JourneysClient) CurrentDefinition(ctx context.Context, target JourneysTarget, kind string) (Definition, error) {
	k, err := journeyKind(kind)
	if err != nil {
		return Definition{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := connect.NewRequest(&journeysv1.GetDefinitionRequest{Community: target.Community, Kind: k})
	if err := c.authorize(ctx, target, req.Header()); err != nil {
		return Definition{}, err
	}
	res, err := c.client(target).GetDefinition(ctx, req)
	if err != nil {
		return Definition{}, journeysError("get the "+kind+" definition", target, err)
	}
	return definitionFromProto(kind, res.Msg.GetDefinition()), nil
}

// SaveDefinition calls JourneysService.SaveDefinition with publish set.
func (c *JourneysClient) SaveDefinition(ctx context.Context, target JourneysTarget, kind, document string) (Definition, error) {
	k, err := journeyKind(kind)
	if err != nil {
		return Definition{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := connect.NewRequest(&journeysv1.SaveDefinitionRequest{Community: target.Community, Kind: k, Document: document, Publish: true})
	if err := c.authorize(ctx, target, req.Header()); err != nil {
		return Definition{}, err
	}
	res, err := c.client(target).SaveDefinition(ctx, req)
	if err != nil {
		return Definition{}, journeysError("save the "+kind+" definition", target, err)
	}
	return definitionFromProto(kind, res.Msg.GetDefinition()), nil
}

// PublishDefinition calls JourneysService.PublishDefinition.
func (c *JourneysClient) PublishDefinition(ctx context.Context, target JourneysTarget, kind string, version int32) (Definition, error) {
	k, err := journeyKind(kind)
	if err != nil {
		return Definition{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := connect.NewRequest(&journeysv1.PublishDefinitionRequest{Community: target.Community, Kind: k, Version: version})
	if err := c.authorize(ctx, target, req.Header()); err != nil {
		return Definition{}, err
	}
	res, err := c.client(target).PublishDefinition(ctx, req)
	if err != nil {
		return Definition{}, journeysError(fmt.Sprintf("publish %s definition version %d", kind, version), target, err)
	}
	return definitionFromProto(kind, res.Msg.GetDefinition()), nil
}

func (c *JourneysClient) client(target JourneysTarget) journeysv1connect.JourneysServiceClient {
	return journeysv1connect.NewJourneysServiceClient(c.http, target.URL)
}

func (c *JourneysClient) authorize(ctx context.Context, target JourneysTarget, h http.Header) error {
	token, err := c.tokens(ctx, target.Audience)
	if err != nil {
		return fmt.Errorf("a token for the worker: %w", err)
	}
	h.Set("Authorization", "Bearer "+token)
	return nil
}

func journeyKind(kind string) (journeysv1.JourneyKind, error) {
	switch kind {
	case KindOnboarding:
		return journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING, nil
	case KindAmbassador:
		return journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, nil
	}
	return journeysv1.JourneyKind_JOURNEY_KIND_UNSPECIFIED, fmt.Errorf("%q is not a kind of journey definition", kind)
}

// journeysError turns a Connect error into a *DefinitionRefusedError when
// the document itself is the problem, into ErrNoDefinition when the
// version does not exist, and into a plain error otherwise.
func journeysError(what string, target JourneysTarget, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		switch ce.Code() {
		case connect.CodeInvalidArgument:
			return &DefinitionRefusedError{Message: ce.Message()}
		case connect.CodeNotFound:
			return fmt.Errorf("%s at %s: %w", what, target.URL, ErrNoDefinition)
		}
	}
	return fmt.Errorf("%s at %s: %w", what, target.URL, err)
}

func definitionFromProto(kind string, d *journeysv1.DefinitionVersion) Definition {
	return Definition{Kind: kind, Version: d.GetVersion(), Document: d.GetDocument(), Current: d.GetCurrent()}
}
