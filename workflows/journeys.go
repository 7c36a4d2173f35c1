package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/kinshiphq/kinship/internal/validate"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// AnyCommunity keys the journeys of communities the journeys file does not
// name.
const AnyCommunity = "*"

// Journeys are one community's journey definitions; what is unset takes
// the defaults.
type Journeys struct {
	Onboarding *onboarding.Definition `json:"onboarding,omitempty"`
	Ambassador *ambassador.Programme  `json:"ambassador,omitempty"`
}

// ParseJourneys reads a journeys file: a JSON object from community slug
// (or "*") to its journeys. An ambassador programme lists only what
// differs from the default programme; an onboarding definition lists all
// its steps.
//
//	{"demo": {"onboarding": {"steps": [{"type": "welcome"}, ...]},
//	          "ambassador": {"reviewers": ["<member id>"]}}}
func ParseJourneys(r io.Reader) (map[string]Journeys, error) {
	var raw map[string]struct {
		Onboarding *onboarding.Definition `json:"onboarding"`
		Ambassador json.RawMessage        `json:"ambassador"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("journeys file: %w", err)
	}
	out := map[string]Journeys{}
	for community, j := range raw {
		parsed := Journeys{Onboarding: j.Onboarding}
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

// catalogue answers each community's journeys from the configuration.
type catalogue struct {
	journeys map[string]Journeys
	// reminderAfter and giveUpAfter tune the default onboarding journey.
	reminderAfter, giveUpAfter time.Duration
}

func newCatalogue(cfg Config) catalogue {
	return catalogue{journeys: cfg.Journeys, reminderAfter: cfg.OnboardingReminderAfter, giveUpAfter: cfg.OnboardingGiveUpAfter}
}

func (c catalogue) lookup(community string) Journeys {
	if j, ok := c.journeys[community]; ok {
		return j
	}
	return c.journeys[AnyCommunity]
}

// Onboarding is the community's onboarding definition.
func (c catalogue) Onboarding(community string) onboarding.Definition {
	if d := c.lookup(community).Onboarding; d != nil {
		return *d
	}
	return onboarding.DefaultDefinition().WithProfileTiming(c.reminderAfter, c.giveUpAfter)
}

// Programme is the community's ambassador programme.
func (c catalogue) Programme(community string) ambassador.Programme {
	if p := c.lookup(community).Ambassador; p != nil {
		return *p
	}
	return ambassador.DefaultProgramme()
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
