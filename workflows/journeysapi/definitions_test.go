package journeysapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/audit/audittest"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
)

func TestEveryMutatingRPCIsAudited(t *testing.T) {
	audittest.CheckCovered(t, journeysapi.Catalogue(), journeysv1.File_kinship_journeys_v1_journeys_proto.Services().ByName("JourneysService"))
}

func save(t *testing.T, c journeysv1connect.JourneysServiceClient, kind journeysv1.JourneyKind, doc string, publish bool, base int32) (*journeysv1.DefinitionVersion, error) {
	t.Helper()
	res, err := c.SaveDefinition(context.Background(), connect.NewRequest(&journeysv1.SaveDefinitionRequest{Community: "demo", Kind: kind,
		Document: doc, Publish: publish, BaseVersion: base}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetDefinition(), nil
}

const onboardingKind = journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING

func TestDefinitionsAreCheckedVersionedAndAudited(t *testing.T) {
	f := start(t)
	org := f.as(t, auth.Organiser, "org-member")
	ctx := context.Background()

	cur, err := org.GetDefinition(ctx, connect.NewRequest(&journeysv1.GetDefinitionRequest{Community: "demo"}))
	if err != nil {
		t.Fatal(err)
	}
	if d := cur.Msg.GetDefinition(); d.GetVersion() != 1 || !d.GetCurrent() || d.GetSource() != definitions.SourceSeed || !strings.Contains(d.GetDocument(), `"complete-profile"`) {
		t.Fatalf("the seeded version: %v", d)
	}

	// Bad documents are refused naming the step and the problem.
	bad := []struct {
		name, doc, field, says string
	}{
		{"unknown kind", `{"steps": [{"id": "a", "kind": "dance"}]}`, "steps[a].kind", "not a step kind"},
		{"not JSON", `{"steps": [`, "document", "line 1"},
		{"unknown template", `{"steps": [{"id": "hello", "kind": "send", "template": "nope"}, {"id": "end", "kind": "end"}]}`,
			"steps[hello].template", `template "nope" is not a template of the community`},
		{"missing locale", `{"locales": ["de-AT"], "steps": [{"id": "hello", "kind": "send", "template": "plain-letter"}, {"id": "end", "kind": "end"}]}`,
			"steps[hello].template", "no variant for locale de-AT"},
		{"default template without the locale", `{"locales": ["fr"], "steps": [{"id": "buddy", "kind": "assign-buddy"}, {"id": "end", "kind": "end"}]}`,
			"steps[buddy].buddy_template", `"onboarding-buddy-ambassador" has no variant for locale fr`},
		{"unknown segment", `{"steps": [{"id": "ask", "kind": "branch", "if": {"segment": "seg-x"}, "then": "end", "else": "end"}, {"id": "end", "kind": "end"}]}`,
			"steps[ask].if.segment", "not a saved segment"},
		{"loop without a wait", `{"steps": [{"id": "a", "kind": "tag", "tag": "x", "next": "b"}, {"id": "b", "kind": "tag", "tag": "y", "next": "a"}]}`,
			"steps[a]", "never waits"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := save(t, org, onboardingKind, b.doc, true, 0)
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Contains(fields(err), b.field) || !strings.Contains(err.Error(), b.says) {
				t.Errorf("%v (fields %v), want InvalidArgument on %s saying %q", err, fields(err), b.field, b.says)
			}
		})
	}

	// A German welcome, a segment that exists: a draft, then published.
	doc := `{"locales": ["de"], "steps": [
	  {"id": "hello", "kind": "send", "template": "welcome-de"},
	  {"id": "ask", "kind": "branch", "if": {"segment": "seg1"}, "then": "end", "else": "end"},
	  {"id": "end", "kind": "end", "outcome": "onboarded"}]}`
	audit := audittest.Mark(t, f.audit(t), "demo")
	draft, err := save(t, org, onboardingKind, doc, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	if draft.GetVersion() != 2 || draft.GetPublished() || draft.GetCurrent() || draft.GetSavedBy() != "u-organiser" || draft.GetSource() != definitions.SourceAPI {
		t.Errorf("draft %v", draft)
	}
	audit.Expect(t, journeysv1connect.JourneysServiceSaveDefinitionProcedure, []string{definitions.ActionSaved})
	if _, err := save(t, org, onboardingKind, doc, false, 1); connect.CodeOf(err) != connect.CodeAborted {
		t.Errorf("saving over version 2 from version 1: %v, want Aborted", err)
	}
	if cur, _ := org.GetDefinition(ctx, connect.NewRequest(&journeysv1.GetDefinitionRequest{Community: "demo"})); cur.Msg.GetDefinition().GetVersion() != 1 {
		t.Error("a draft became current")
	}
	audit = audittest.Mark(t, f.audit(t), "demo")
	if _, err := org.PublishDefinition(ctx, connect.NewRequest(&journeysv1.PublishDefinitionRequest{Community: "demo", Version: 2})); err != nil {
		t.Fatal(err)
	}
	audit.Expect(t, journeysv1connect.JourneysServicePublishDefinitionProcedure, []string{definitions.ActionPublished})
	if _, err := org.PublishDefinition(ctx, connect.NewRequest(&journeysv1.PublishDefinitionRequest{Community: "demo", Version: 9})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("publishing a version that does not exist: %v", err)
	}

	history, err := f.as(t, auth.Staff, "staff-member").ListDefinitionVersions(ctx, connect.NewRequest(&journeysv1.ListDefinitionVersionsRequest{Community: "demo", PageSize: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if v := history.Msg.GetVersions(); len(v) != 1 || v[0].GetVersion() != 2 || !v[0].GetCurrent() || v[0].GetDocument() != "" || history.Msg.GetNextPageToken() == "" {
		t.Errorf("first page of the history: %v", history.Msg)
	}
	older, err := org.ListDefinitionVersions(ctx, connect.NewRequest(&journeysv1.ListDefinitionVersionsRequest{Community: "demo", PageToken: history.Msg.GetNextPageToken()}))
	if err != nil || len(older.Msg.GetVersions()) != 1 || older.Msg.GetVersions()[0].GetVersion() != 1 || older.Msg.GetNextPageToken() != "" {
		t.Errorf("second page: %v, %v", older, err)
	}

	diff, err := org.DiffDefinitions(ctx, connect.NewRequest(&journeysv1.DiffDefinitionsRequest{Community: "demo", FromVersion: 1}))
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, c := range diff.Msg.GetChanges() {
		changes = append(changes, c.GetChange()+" "+c.GetPath())
	}
	for _, want := range []string{"added locales", "added steps[hello]", "removed steps[welcome]", "removed steps[complete-profile]", "added steps[ask]"} {
		if !slices.Contains(changes, want) {
			t.Errorf("diff 1 → 2 %v lacks %q", changes, want)
		}
	}

	// The ambassador programme is versioned the same way.
	if _, err := save(t, org, journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, `{"approvals": 0}`, true, 0); !slices.Contains(fields(err), "approvals") {
		t.Errorf("a programme without approvals: %v", err)
	}
	p, err := save(t, org, journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, `{"quotas": [{"activity": "hosted_event", "count": 2}]}`, true, 0)
	if err != nil || p.GetVersion() != 2 || !strings.Contains(p.GetDocument(), `"check_ins": 12`) {
		t.Errorf("programme version %v, %v: what it leaves out takes the defaults", p, err)
	}
}

func TestATestRunWritesToTheOrganiser(t *testing.T) {
	f := start(t)
	org := f.as(t, auth.Organiser, "org-member")
	ctx := context.Background()
	audit := audittest.Mark(t, f.audit(t), "demo")
	res, err := org.TestRunDefinition(ctx, connect.NewRequest(&journeysv1.TestRunDefinitionRequest{Community: "demo", MemberId: "m9"}))
	if err != nil {
		t.Fatal(err)
	}
	audit.Expect(t, journeysv1connect.JourneysServiceTestRunDefinitionProcedure, []string{journeysapi.ActionTestRun})
	if res.Msg.GetJourneyId() != "onboarding-test/demo/m9" || res.Msg.GetVersion() != 1 {
		t.Errorf("test run %v", res.Msg)
	}
	eventually(t, "the welcome sent to the organiser", func() string {
		for _, m := range f.sent.all() {
			if strings.HasPrefix(m.WorkflowID, "onboarding-test/demo/m9/") && m.RecipientID == "org-member" && m.MemberID == "m9" {
				return ""
			}
		}
		return "nothing sent to the organiser"
	})
	j, err := org.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: "m9", TestRun: true}))
	if err != nil || !j.Msg.GetJourney().GetOnboarding().GetTestRun() {
		t.Errorf("the test run: %v, %v", j, err)
	}
	if _, err := org.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: "m9"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("the member's own journey: %v, want none", err)
	}

	keyHolder := f.issuer.Token(t, localissuer.Claims{Subject: "u-nomember", Community: "demo", Roles: []string{string(auth.Organiser)}})
	c := journeysv1connect.NewJourneysServiceClient(http.DefaultClient, f.url, authtest.Bearer(keyHolder))
	if _, err := c.TestRunDefinition(ctx, connect.NewRequest(&journeysv1.TestRunDefinitionRequest{Community: "demo", MemberId: "m9"})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("a test run by an organiser who is no member: %v", err)
	}
	if _, err := org.TestRunDefinition(ctx, connect.NewRequest(&journeysv1.TestRunDefinitionRequest{Community: "demo", MemberId: "ghost"})); !slices.Contains(fields(err), "member_id") {
		t.Errorf("a test run for a non-member: %v", err)
	}
	if _, err := org.TestRunDefinition(ctx, connect.NewRequest(&journeysv1.TestRunDefinitionRequest{Community: "demo", MemberId: "m9", Version: 7})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("a test run of a version that does not exist: %v", err)
	}
}

// A definition a workload saves — the operator, from the Community
// resource — is kept as a seed and audited as seeded, like the worker's
// own journeys file; an organiser's save through the same RPC stays an
// organiser's edit ("api"), and the history tells the two apart.
func TestDefinitionsSavedByTheOperatorAreSeeds(t *testing.T) {
	f := start(t)
	org := f.as(t, auth.Organiser, "org-member")
	operator := journeysv1connect.NewJourneysServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.Workload(t)))
	doc := `{"steps": [{"id": "hello", "kind": "send", "template": "plain-letter"}, {"id": "end", "kind": "end"}]}`
	for _, tc := range []struct {
		name                  string
		client                journeysv1connect.JourneysServiceClient
		source, savedBy, kind string
		action                string
	}{
		{"the operator's workload token", operator, definitions.SourceSeed, authtest.WorkloadSubject, string(auth.KindWorkload), definitions.ActionSeeded},
		{"an organiser", org, definitions.SourceAPI, "u-organiser", string(auth.KindUser), definitions.ActionSaved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			audit := audittest.Mark(t, f.audit(t), "demo")
			v, err := save(t, tc.client, onboardingKind, doc, true, 0)
			if err != nil {
				t.Fatal(err)
			}
			if v.GetSource() != tc.source || v.GetSavedBy() != tc.savedBy || v.GetSavedByKind() != tc.kind || !v.GetCurrent() {
				t.Errorf("saved %v, want source %s by %s %s", v, tc.source, tc.kind, tc.savedBy)
			}
			audit.Expect(t, journeysv1connect.JourneysServiceSaveDefinitionProcedure, []string{tc.action, definitions.ActionPublished})
			got, err := org.GetDefinition(context.Background(), connect.NewRequest(&journeysv1.GetDefinitionRequest{Community: "demo", Version: v.GetVersion()}))
			if err != nil || got.Msg.GetDefinition().GetSource() != tc.source {
				t.Errorf("read again: %v, %v; want source %s", got, err, tc.source)
			}
		})
	}
}
