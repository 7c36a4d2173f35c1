package journeysapi_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// A journey, read or listed, links to its workflow run in the Temporal
// Web UI the worker was given: the community is the namespace and the
// workflow id, whose slashes would otherwise read as path segments, is
// escaped. A worker given no UI gives no link.
func TestJourneysLinkToTheirWorkflowInTheTemporalUI(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, ui string
		want     func(runID string) string
	}{
		{"with a UI under a path", "https://ops.example.org/temporal/", func(runID string) string {
			return "https://ops.example.org/temporal/namespaces/demo/workflows/onboarding%2Fdemo%2Fm1/" + runID + "/history"
		}},
		{"without a UI", "", func(string) string { return "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, func(o *journeysapi.Options) { o.TemporalUI = tc.ui })
			org := f.as(t, auth.Organiser, "org-member")
			if _, _, err := startAll(t, org, &journeysv1.StartOnboardingRequest{Community: "demo", MemberIds: []string{"m1"}}); err != nil {
				t.Fatal(err)
			}
			desc, err := f.tc.DescribeWorkflowExecution(ctx, onboarding.WorkflowID("demo", "m1"), "")
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want(desc.GetWorkflowExecutionInfo().GetExecution().GetRunId())
			res, err := org.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: "m1"}))
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Msg.GetJourney().GetWorkflowUrl(); got != want {
				t.Errorf("GetJourney workflow_url = %q, want %q", got, want)
			}
			eventually(t, "the journey listed with its link", func() string {
				list, err := org.ListJourneys(ctx, connect.NewRequest(&journeysv1.ListJourneysRequest{Community: "demo"}))
				if err != nil {
					return err.Error()
				}
				if len(list.Msg.GetJourneys()) != 1 {
					return "not listed yet"
				}
				if got := list.Msg.GetJourneys()[0].GetWorkflowUrl(); got != want {
					return "ListJourneys workflow_url = " + got + ", want " + want
				}
				return ""
			})
		})
	}
}
