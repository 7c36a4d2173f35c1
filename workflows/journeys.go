package workflows

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// AnyCommunity keys the journeys of communities the journeys file does not
// name.
const AnyCommunity = "*"

// Journeys are one community's seeded journey definitions (from the
// Community resource, through the journeys file); what is unset is left
// to the community's organisers, or takes the defaults.
type Journeys struct {
	Onboarding *onboarding.Graph     `json:"onboarding,omitempty"`
	Ambassador *ambassador.Programme `json:"ambassador,omitempty"`
}

// ParseJourneys reads a journeys file: a JSON object from community slug
// (or "*") to its journeys. An ambassador programme lists only what
// differs from the default programme. An onboarding definition is a graph
// of steps with ids (see docs/journeys.md) or, in the first format, the
// list of fixed step types, which becomes the graph that does the same.
//
//	{"demo": {"onboarding": {"steps": [{"id": "hello", "kind": "send", ...}, ...]},
//	          "ambassador": {"reviewers": ["<member id>"]}}}
func ParseJourneys(r io.Reader) (map[string]Journeys, error) {
	var raw map[string]struct {
		Onboarding json.RawMessage `json:"onboarding"`
		Ambassador json.RawMessage `json:"ambassador"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("journeys file: %w", err)
	}
	out := map[string]Journeys{}
	for community, j := range raw {
		var parsed Journeys
		if len(j.Onboarding) > 0 {
			g, err := parseOnboarding(j.Onboarding)
			if err != nil {
				return nil, fmt.Errorf("journeys file: %s: onboarding: %w", community, err)
			}
			parsed.Onboarding = &g
		}
		if len(j.Ambassador) > 0 {
			p := ambassador.DefaultProgramme()
			adec := json.NewDecoder(bytes.NewReader(j.Ambassador))
			adec.DisallowUnknownFields()
			if err := adec.Decode(&p); err != nil {
				return nil, fmt.Errorf("journeys file: %s: ambassador: %w", community, err)
			}
			parsed.Ambassador = &p
		}
		out[community] = parsed
	}
	return out, nil
}

// parseOnboarding reads a graph, or a definition of the first format.
func parseOnboarding(raw json.RawMessage) (onboarding.Graph, error) {
	g, graphErr := onboarding.ParseGraph(bytes.NewReader(raw))
	if graphErr == nil {
		return g, nil
	}
	var linear onboarding.Definition
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&linear); err != nil || len(linear.Steps) == 0 {
		return onboarding.Graph{}, graphErr
	}
	if err := linear.Validate(); err != nil {
		return onboarding.Graph{}, err
	}
	return onboarding.FromLinear(linear), nil
}

// seeds are the documents each community's definitions are seeded with.
type seeds struct {
	journeys map[string]Journeys
	// onboarding is the default journey as the reminder flags tune it;
	// empty when they are unset.
	onboarding string
}

func newSeeds(cfg Config) seeds {
	s := seeds{journeys: cfg.Journeys}
	if cfg.OnboardingReminderAfter > 0 || cfg.OnboardingGiveUpAfter > 0 {
		s.onboarding = onboarding.FromLinear(onboarding.DefaultDefinition().WithProfileTiming(cfg.OnboardingReminderAfter, cfg.OnboardingGiveUpAfter)).Document()
	}
	return s
}

func (s seeds) lookup(community string) Journeys {
	if j, ok := s.journeys[community]; ok {
		return j
	}
	return s.journeys[AnyCommunity]
}

// document is the seed of community's definition of kind; "" leaves the
// community's own, or gives it the default.
func (s seeds) document(community, kind string) string {
	j := s.lookup(community)
	switch {
	case kind == definitions.KindAmbassador && j.Ambassador != nil:
		return definitions.ProgrammeDocument(*j.Ambassador)
	case kind == definitions.KindOnboarding && j.Onboarding != nil:
		return j.Onboarding.Document()
	case kind == definitions.KindOnboarding:
		return s.onboarding
	}
	return ""
}

// workerPrincipal is the worker acting on its own: seeding definitions.
func workerPrincipal(ctx context.Context) context.Context {
	return auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindWorkload, Subject: "kinship-worker", Roles: []auth.Role{auth.Workload}}, auth.ScopeCommunity)
}

// seed gives every community its seeded (or default) definitions.
func seed(ctx context.Context, store *definitions.Store, cfg Config) error {
	s := newSeeds(cfg)
	ctx = workerPrincipal(ctx)
	for _, community := range cfg.Communities {
		for _, kind := range []string{definitions.KindOnboarding, definitions.KindAmbassador} {
			if _, err := store.Seed(ctx, community, kind, s.document(community, kind)); err != nil {
				return fmt.Errorf("worker: seed definitions: %w", err)
			}
		}
	}
	return nil
}

// validateJourneys reports every problem of the configured journeys,
// naming the community and field.
func validateJourneys(cfg Config) []error {
	var errs []error
	served := map[string]bool{AnyCommunity: true}
	for _, c := range cfg.Communities {
		served[c] = true
	}
	communities := make([]string, 0, len(cfg.Journeys))
	for c := range cfg.Journeys {
		communities = append(communities, c)
	}
	sort.Strings(communities)
	for _, community := range communities {
		j := cfg.Journeys[community]
		if !served[community] {
			errs = append(errs, fmt.Errorf("worker: journeys for %q, which is not served", community))
		}
		if j.Onboarding != nil {
			for _, f := range validate.FieldErrors(j.Onboarding.Validate()) {
				errs = append(errs, fmt.Errorf("worker: journeys %s onboarding %s: %s", community, f.Field, f.Reason))
			}
		}
		if j.Ambassador != nil {
			for _, f := range validate.FieldErrors(j.Ambassador.Validate()) {
				errs = append(errs, fmt.Errorf("worker: journeys %s ambassador %s: %s", community, f.Field, f.Reason))
			}
		}
	}
	return errs
}
