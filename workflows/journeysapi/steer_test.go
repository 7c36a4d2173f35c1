package journeysapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/audit/audittest"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
)

// journeyOf reads a member's onboarding journey.
func journeyOf(t *testing.T, c journeysv1connect.JourneysServiceClient, member string) *journeysv1.Journey {
	t.Helper()
	res, err := c.GetJourney(context.Background(), connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: member}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetJourney()
}

func waitingForProfile(t *testing.T, c journeysv1connect.JourneysServiceClient, members ...string) {
	t.Helper()
	for _, m := range members {
		eventually(t, m+" waits for the profile", func() string {
			if j := journeyOf(t, c, m); j.GetCurrentStep() != "complete-profile" {
				return "at " + j.GetCurrentStep()
			}
			return ""
		})
	}
}

// TestADefinitionChangeDoesNotAlterRunningJourneysUnlessMigrated saves a
// new version while a journey runs: it keeps its version until an
// organiser migrates it, which a dry run shows first.
func TestADefinitionChangeDoesNotAlterRunningJourneysUnlessMigrated(t *testing.T) {
	f := start(t)
	org := f.as(t, auth.Organiser, "org-member")
	ctx := context.Background()
	if _, _, err := startAll(t, org, &journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"m1"}}); err != nil {
		t.Fatal(err)
	}
	waitingForProfile(t, org, "m1")

	v2, err := save(t, org, onboardingKind, `{"steps": [
	  {"id": "welcome", "kind": "send", "template": "onboarding-welcome"},
	  {"id": "profile-v2", "kind": "wait-for", "signal": "profile-completed", "timeout": "2h"},
	  {"id": "onboarded", "kind": "end", "outcome": "onboarded"}]}`, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if j := journeyOf(t, org, "m1"); j.GetOnboarding().GetDefinitionVersion() != 1 || j.GetCurrentStep() != "complete-profile" {
		t.Errorf("after the save the running journey is at %q of version %d", j.GetCurrentStep(), j.GetOnboarding().GetDefinitionVersion())
	}
	// New journeys take the new version.
	if _, _, err := startAll(t, org, &journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"m2"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "m2 on version 2", func() string {
		if j := journeyOf(t, org, "m2"); j.GetOnboarding().GetDefinitionVersion() != 2 || j.GetCurrentStep() != "profile-v2" {
			return j.GetCurrentStep()
		}
		return ""
	})

	migrate := func(req *journeysv1.MigrateJourneysRequest) (*journeysv1.MigrateJourneysResponse, error) {
		req.Community = "demo"
		res, err := org.MigrateJourneys(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	// Where would they land? complete-profile has no counterpart.
	dry, err := migrate(&journeysv1.MigrateJourneysRequest{ToVersion: v2.GetVersion(), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.GetTotal() != 1 || dry.GetUnmapped() != 1 || dry.GetMoves()[0].GetMemberId() != "m1" || dry.GetMoves()[0].GetStatus() != "unmapped" ||
		dry.GetMoves()[0].GetFromStep() != "complete-profile" {
		t.Errorf("dry run %v", dry)
	}
	refusals := []struct {
		name string
		req  *journeysv1.MigrateJourneysRequest
		code connect.Code
		says string
	}{
		{"unmapped journeys", &journeysv1.MigrateJourneysRequest{ToVersion: 2}, connect.CodeFailedPrecondition, "complete-profile"},
		{"a step the version lacks", &journeysv1.MigrateJourneysRequest{ToVersion: 2, StepMap: map[string]string{"complete-profile": "nowhere"}, DryRun: true},
			connect.CodeFailedPrecondition, `step "nowhere"`},
		{"a version that does not exist", &journeysv1.MigrateJourneysRequest{ToVersion: 9}, connect.CodeNotFound, ""},
		{"no version", &journeysv1.MigrateJourneysRequest{}, connect.CodeInvalidArgument, "to_version"},
	}
	for _, r := range refusals {
		if _, err := migrate(r.req); connect.CodeOf(err) != r.code || !strings.Contains(err.Error(), r.says) {
			t.Errorf("%s: %v, want %v saying %q", r.name, err, r.code, r.says)
		}
	}
	if _, err := save(t, org, onboardingKind, `{"steps": [{"id": "welcome", "kind": "send", "template": "onboarding-welcome"}, {"id": "end", "kind": "end"}]}`, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(&journeysv1.MigrateJourneysRequest{ToVersion: 3}); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("migrating to a draft: %v", err)
	}

	mapping := map[string]string{"complete-profile": "profile-v2"}
	dry, err = migrate(&journeysv1.MigrateJourneysRequest{ToVersion: 2, StepMap: mapping, DryRun: true})
	if err != nil || dry.GetMoved() != 1 || len(dry.GetTransitions()) != 1 || dry.GetTransitions()[0].GetToStep() != "profile-v2" {
		t.Fatalf("mapped dry run %v, %v", dry, err)
	}
	if j := journeyOf(t, org, "m1"); j.GetOnboarding().GetDefinitionVersion() != 1 {
		t.Error("a dry run moved the journey")
	}
	audit := audittest.Mark(t, f.audit(t), "demo")
	done, err := migrate(&journeysv1.MigrateJourneysRequest{ToVersion: 2, StepMap: mapping})
	if err != nil || done.GetMoved() != 1 || done.GetMoves()[0].GetStatus() != "moved" {
		t.Fatalf("migration %v, %v", done, err)
	}
	audit.Expect(t, journeysv1connect.JourneysServiceMigrateJourneysProcedure, []string{journeysapi.ActionMigrated})
	eventually(t, "m1 on version 2", func() string {
		if j := journeyOf(t, org, "m1"); j.GetOnboarding().GetDefinitionVersion() != 2 || j.GetCurrentStep() != "profile-v2" {
			return j.GetCurrentStep()
		}
		return ""
	})
}

func TestOrganisersSteerMembersAndSegmentsAndEachIsAudited(t *testing.T) {
	f := start(t)
	org := f.as(t, auth.Organiser, "org-member")
	ctx := context.Background()
	if _, _, err := startAll(t, org, &journeysv1.StartOnboardingRequest{Community: "demo", SegmentId: "seg1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := startAll(t, org, &journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"m1"}}); err != nil {
		t.Fatal(err)
	}
	waitingForProfile(t, org, "s1", "s2", "s3", "m1")
	steer := func(req *journeysv1.SteerJourneysRequest) (*journeysv1.SteerJourneysResponse, error) {
		req.Community = "demo"
		res, err := org.SteerJourneys(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}

	audit := audittest.Mark(t, f.audit(t), "demo")
	res, err := steer(&journeysv1.SteerJourneysRequest{SegmentId: "seg1", Action: journeysv1.SteerAction_STEER_ACTION_PAUSE})
	if err != nil || res.GetTotal() != 3 || res.GetSteered() != 3 {
		t.Fatalf("pausing the segment: %v, %v", res, err)
	}
	if n := len(audit.Since(t)); n != 3 {
		t.Errorf("%d audit entries for three journeys paused", n)
	}
	eventually(t, "the segment paused", func() string {
		for _, m := range []string{"s1", "s2", "s3"} {
			if !journeyOf(t, org, m).GetPaused() {
				return m + " runs"
			}
		}
		return ""
	})

	audit = audittest.Mark(t, f.audit(t), "demo")
	if _, err := steer(&journeysv1.SteerJourneysRequest{MemberIds: []string{"m1"}, Action: journeysv1.SteerAction_STEER_ACTION_RESTART, Step: "welcome"}); err != nil {
		t.Fatal(err)
	}
	audit.Expect(t, journeysv1connect.JourneysServiceSteerJourneysProcedure, []string{journeysapi.ActionRestarted})
	eventually(t, "the welcome again", func() string {
		for _, m := range f.sent.all() {
			if m.MemberID == "m1" && m.Key == "welcome/2" {
				return ""
			}
		}
		return "not sent"
	})

	refusals := []struct {
		name  string
		req   *journeysv1.SteerJourneysRequest
		code  connect.Code
		field string
	}{
		{"restart to a step the journey lacks", &journeysv1.SteerJourneysRequest{MemberIds: []string{"m1"}, Action: journeysv1.SteerAction_STEER_ACTION_RESTART, Step: "nowhere"},
			connect.CodeFailedPrecondition, ""},
		{"restart without a step", &journeysv1.SteerJourneysRequest{MemberIds: []string{"m1"}, Action: journeysv1.SteerAction_STEER_ACTION_RESTART},
			connect.CodeInvalidArgument, "step"},
		{"skip a step the journey lacks", &journeysv1.SteerJourneysRequest{MemberIds: []string{"m1"}, Action: journeysv1.SteerAction_STEER_ACTION_SKIP, Step: "dance"},
			connect.CodeInvalidArgument, "step"},
		{"no action", &journeysv1.SteerJourneysRequest{MemberIds: []string{"m1"}}, connect.CodeInvalidArgument, "action"},
		{"pausing an ambassador", &journeysv1.SteerJourneysRequest{MemberIds: []string{"m1"}, Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR,
			Action: journeysv1.SteerAction_STEER_ACTION_PAUSE}, connect.CodeInvalidArgument, "action"},
		{"nobody", &journeysv1.SteerJourneysRequest{Action: journeysv1.SteerAction_STEER_ACTION_PAUSE}, connect.CodeInvalidArgument, "member_ids"},
		{"a member without a journey", &journeysv1.SteerJourneysRequest{MemberIds: []string{"ghost"}, Action: journeysv1.SteerAction_STEER_ACTION_PAUSE},
			connect.CodeNotFound, ""},
	}
	for _, r := range refusals {
		_, err := steer(r.req)
		if connect.CodeOf(err) != r.code || (r.field != "" && !slices.Contains(fields(err), r.field)) {
			t.Errorf("%s: %v, want %v naming %q", r.name, err, r.code, r.field)
		}
	}

	// A list steers who it can and says why not for the others.
	res, err = steer(&journeysv1.SteerJourneysRequest{MemberIds: []string{"s1", "ghost"}, Action: journeysv1.SteerAction_STEER_ACTION_CANCEL})
	if err != nil || res.GetSteered() != 1 || res.GetFailed() != 1 || res.GetFailures()[0].GetMemberId() != "ghost" ||
		!strings.Contains(res.GetFailures()[0].GetReason(), "no onboarding journey") {
		t.Errorf("cancelling a list: %v, %v", res, err)
	}
	eventually(t, "s1 cancelled", func() string {
		if s := journeyOf(t, org, "s1").GetStatus(); s != journeysv1.JourneyStatus_JOURNEY_STATUS_CANCELLED {
			return s.String()
		}
		return ""
	})
	if _, err := steer(&journeysv1.SteerJourneysRequest{MemberIds: []string{"s1"}, Action: journeysv1.SteerAction_STEER_ACTION_RESUME}); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("resuming a cancelled journey: %v", err)
	}
}
