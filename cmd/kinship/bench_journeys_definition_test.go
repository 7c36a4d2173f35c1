//go:build !nodev

package main

import (
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// TestBenchGraphIsAValidSixStepDefinition: the journeys API would take the
// definition the journeys benchmark saves, as it is, with its six steps.
func TestBenchGraphIsAValidSixStepDefinition(t *testing.T) {
	for _, tag := range []string{"bench-cohort", "bench-save-20"} {
		t.Run(tag, func(t *testing.T) {
			doc, err := definitions.Parse(definitions.KindOnboarding, benchGraph(tag).Document())
			if err != nil {
				t.Fatalf("the journeys API refuses the bench definition: %v", err)
			}
			g, err := onboarding.ParseGraph(strings.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Steps) != benchSteps || benchSteps != 6 {
				t.Errorf("the bench definition has %d steps (%v), want 6", len(g.Steps), g.IDs())
			}
			if g.Steps[2].Tag != tag {
				t.Errorf("tag step = %q, want %q", g.Steps[2].Tag, tag)
			}
		})
	}
}
