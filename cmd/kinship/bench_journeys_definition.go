//go:build !nodev

package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// benchSteps is how many steps the cohort's journey definition has.
const benchSteps = 6

// benchSaveCount is how many definition saves are timed.
const benchSaveCount = 40

// benchGraph is the 6-step onboarding journey the cohort runs: a welcome,
// a wait for the profile, a tag, event suggestions, a wait for the first
// attendance and the end. tag names the version apart from its siblings
// (each save of the save benchmark stores a different document).
func benchGraph(tag string) onboarding.Graph {
	return onboarding.Graph{Steps: []onboarding.Node{
		{ID: "welcome", Kind: onboarding.KindSend, Template: onboarding.TemplateWelcome},
		{ID: "profile", Kind: onboarding.KindWaitFor, Signal: onboarding.WaitProfileCompleted, Timeout: onboarding.Duration(14 * 24 * time.Hour)},
		{ID: "cohort", Kind: onboarding.KindTag, Tag: tag},
		{ID: "suggest", Kind: onboarding.KindSuggestEvents},
		{ID: "first-attendance", Kind: onboarding.KindWaitFor, Signal: onboarding.WaitCheckedIn, Timeout: onboarding.Duration(60 * 24 * time.Hour)},
		{ID: onboarding.OutcomeOnboarded, Kind: onboarding.KindEnd, Outcome: onboarding.OutcomeOnboarded},
	}}
}

// benchDefinitions saves and reads the demo community's onboarding
// definitions through the journeys API, as the stack's organiser.
type benchDefinitions struct {
	api journeysv1connect.JourneysServiceClient
}

func newBenchDefinitions(ep devstack.Endpoints) benchDefinitions {
	return benchDefinitions{api: journeysv1connect.NewJourneysServiceClient(http.DefaultClient, ep.Worker, organiserBearer(ep))}
}

// save saves g published on top of base (0: whatever is newest) and checks
// it was really stored: the next version, current, and read back with g's
// steps and tag.
func (d benchDefinitions) save(ctx context.Context, g onboarding.Graph, base int32) (int32, time.Duration, error) {
	began := time.Now()
	res, err := d.api.SaveDefinition(ctx, connect.NewRequest(&journeysv1.SaveDefinitionRequest{Community: "demo",
		Kind: journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING, Document: g.Document(), Publish: true, BaseVersion: base}))
	took := time.Since(began)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: save a definition: %w", err)
	}
	v := res.Msg.GetDefinition()
	if base != 0 && v.GetVersion() != base+1 {
		return 0, 0, fmt.Errorf("bench: a save on version %d stored version %d", base, v.GetVersion())
	}
	if err := d.check(ctx, v.GetVersion(), g); err != nil {
		return 0, 0, err
	}
	return v.GetVersion(), took, nil
}

// check reads the current definition back: it must be version, with
// g's steps (ids and kinds in order) and tag.
func (d benchDefinitions) check(ctx context.Context, version int32, g onboarding.Graph) error {
	res, err := d.api.GetDefinition(ctx, connect.NewRequest(&journeysv1.GetDefinitionRequest{Community: "demo",
		Kind: journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING}))
	if err != nil {
		return fmt.Errorf("bench: read the definition back: %w", err)
	}
	cur := res.Msg.GetDefinition()
	if cur.GetVersion() != version || !cur.GetCurrent() || !cur.GetPublished() {
		return fmt.Errorf("bench: the current definition is version %d (current %v, published %v), want the saved version %d",
			cur.GetVersion(), cur.GetCurrent(), cur.GetPublished(), version)
	}
	stored, err := onboarding.ParseGraph(strings.NewReader(cur.GetDocument()))
	if err != nil {
		return fmt.Errorf("bench: the stored definition %d: %w", version, err)
	}
	if !slices.EqualFunc(stored.Steps, g.Steps, func(a, b onboarding.Node) bool { return a.ID == b.ID && a.Kind == b.Kind && a.Tag == b.Tag }) {
		return fmt.Errorf("bench: the stored definition %d has steps %v, want %v", version, stored.IDs(), g.IDs())
	}
	return nil
}

// benchCohortIDs reads the member ids of the cohort's segment.
func benchCohortIDs(ctx context.Context, ep devstack.Endpoints, segment string) (map[string]bool, error) {
	segments := membersv1connect.NewSegmentsServiceClient(http.DefaultClient, ep.Members, organiserBearer(ep))
	ids := map[string]bool{}
	token := ""
	for {
		res, err := segments.ListSegmentMembers(ctx, connect.NewRequest(&membersv1.ListSegmentMembersRequest{Community: "demo", SegmentId: segment,
			PageSize: 500, PageToken: token}))
		if err != nil {
			return nil, fmt.Errorf("bench: list the cohort: %w", err)
		}
		for _, m := range res.Msg.GetMembers() {
			ids[m.GetId()] = true
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return ids, nil
		}
	}
}

// benchCohortJourneys lists the journeys of the cohort's members through
// the journeys API (which reads Temporal), leaving aside those of members
// outside the cohort, such as the stack's seeded members. A member with
// two journeys is an error.
func benchCohortJourneys(ctx context.Context, api journeysv1connect.JourneysServiceClient, cohort map[string]bool) (map[string]*journeysv1.JourneySummary, error) {
	out := map[string]*journeysv1.JourneySummary{}
	token := ""
	for {
		res, err := api.ListJourneys(ctx, connect.NewRequest(&journeysv1.ListJourneysRequest{Community: "demo", PageSize: 500, PageToken: token}))
		if err != nil {
			return nil, fmt.Errorf("bench: list the journeys: %w", err)
		}
		for _, j := range res.Msg.GetJourneys() {
			if !cohort[j.GetMemberId()] {
				continue
			}
			if out[j.GetMemberId()] != nil {
				return nil, fmt.Errorf("bench: member %s has two journeys", j.GetMemberId())
			}
			out[j.GetMemberId()] = j
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// benchStartedOnce checks that each member of cohort has exactly one
// onboarding journey, on version. Visibility catches up with the starts
// shortly after, so the listing is read again until every member shows.
func benchStartedOnce(ctx context.Context, ep devstack.Endpoints, cohort map[string]bool, version int32) error {
	api := journeysv1connect.NewJourneysServiceClient(http.DefaultClient, ep.Worker, organiserBearer(ep))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		seen, err := benchCohortJourneys(ctx, api, cohort)
		if err != nil {
			return err
		}
		for id, j := range seen {
			if j.GetDefinitionVersion() != version {
				return fmt.Errorf("bench: member %s's journey runs definition %d, want %d", id, j.GetDefinitionVersion(), version)
			}
		}
		if len(seen) == len(cohort) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %d of the cohort's %d members have a journey", len(seen), len(cohort))
		}
		if err := benchPause(ctx, time.Second); err != nil {
			return err
		}
	}
}

// benchAtRest waits, up to wait, until every journey of the cohort runs
// and waits at one of steps — where journeys spend their days: an
// imported member's for the address confirmation, others' for the
// profile — and returns how many do when it stops waiting.
func benchAtRest(ctx context.Context, ep devstack.Endpoints, cohort map[string]bool, wait time.Duration, steps ...string) (int, error) {
	api := journeysv1connect.NewJourneysServiceClient(http.DefaultClient, ep.Worker, organiserBearer(ep))
	deadline := time.Now().Add(wait)
	for {
		seen, err := benchCohortJourneys(ctx, api, cohort)
		if err != nil {
			return 0, err
		}
		resting := 0
		for _, j := range seen {
			if j.GetStatus() == journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING && slices.Contains(steps, j.GetCurrentStep()) {
				resting++
			}
		}
		if resting == len(cohort) || time.Now().After(deadline) {
			return resting, nil
		}
		if err := benchPause(ctx, 5*time.Second); err != nil {
			return 0, err
		}
	}
}

// saveRun is the timing of repeated definition saves.
type saveRun struct {
	saves   int
	running int64
	resting int
	median  time.Duration
	p95     time.Duration
	max     time.Duration
	first   int32
	last    int32
}

// benchSaves saves and publishes the definition saves times while the
// cohort's journeys run, each on top of the one before and each read
// back, and times the saves.
func benchSaves(ctx context.Context, tc client.Client, ep devstack.Endpoints, saves int, base int32) (saveRun, error) {
	res, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Query: "WorkflowType = '" + onboarding.WorkflowName + "' AND ExecutionStatus = 'Running'"})
	if err != nil {
		return saveRun{}, fmt.Errorf("bench: count the running journeys: %w", err)
	}
	run := saveRun{saves: saves, running: res.GetCount(), first: base + 1}
	defs := newBenchDefinitions(ep)
	var took []time.Duration
	v := base
	for i := range saves {
		next, d, err := defs.save(ctx, benchGraph(fmt.Sprintf("bench-save-%d", i+1)), v)
		if err != nil {
			return saveRun{}, err
		}
		v = next
		took = append(took, d)
		// An editor saves now and then, not in a tight loop.
		if err := benchPause(ctx, 100*time.Millisecond); err != nil {
			return saveRun{}, err
		}
	}
	run.last = v
	slices.Sort(took)
	run.median, run.p95, run.max = took[len(took)/2], took[min(len(took)-1, (len(took)*95+99)/100-1)], took[len(took)-1]
	return run, nil
}

// benchPause waits d, or less when ctx ends.
func benchPause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
