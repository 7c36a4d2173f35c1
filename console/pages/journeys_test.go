package pages

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
)

// fakeJourneys answers GetJourney with a link to the Temporal Web UI for
// member "linked" and none for the others, as a worker without a UI.
type fakeJourneys struct {
	journeysv1connect.UnimplementedJourneysServiceHandler
}

const workflowLink = "https://temporal.example.org/namespaces/demo/workflows/onboarding%2Fdemo%2Flinked/run-1/history"

func (fakeJourneys) GetJourney(_ context.Context, req *connect.Request[journeysv1.GetJourneyRequest]) (*connect.Response[journeysv1.GetJourneyResponse], error) {
	j := &journeysv1.Journey{Id: "onboarding/demo/" + req.Msg.GetMemberId(), MemberId: req.Msg.GetMemberId(), Community: "demo",
		Status: journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING, CurrentStep: "welcome"}
	if req.Msg.GetMemberId() == "linked" {
		j.WorkflowUrl = workflowLink
	}
	return connect.NewResponse(&journeysv1.GetJourneyResponse{Journey: j}), nil
}

// The journey page links to the journey's workflow in the Temporal Web UI
// when the journeys API gives the link, and shows none otherwise.
func TestTheJourneyPageLinksToItsWorkflow(t *testing.T) {
	r := newRigWith(t, func(mux *http.ServeMux) { mux.Handle(journeysv1connect.NewJourneysServiceHandler(fakeJourneys{})) })
	cookie, _ := r.signIn(t, "staff")
	for _, tc := range []struct {
		member string
		link   bool
	}{{"linked", true}, {"unlinked", false}} {
		t.Run(tc.member, func(t *testing.T) {
			res, body := r.do(t, http.MethodGet, "/journeys/"+tc.member, cookie, nil, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			hasLink := strings.Contains(body, `href="`+workflowLink+`"`)
			if hasLink != tc.link || strings.Contains(body, "Open in the Temporal Web UI") != tc.link {
				t.Errorf("link shown: %v, want %v", hasLink, tc.link)
			}
		})
	}
}
