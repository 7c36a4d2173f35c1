package journeysapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/workflows/ambassador"
)

// listNominations reads every page of the programme's nominations,
// size at a time.
func listNominations(t *testing.T, c journeysv1connect.JourneysServiceClient, size int32) ([]*journeysv1.Nomination, error) {
	t.Helper()
	var out []*journeysv1.Nomination
	token := ""
	for range 100 {
		res, err := c.ListNominations(context.Background(), connect.NewRequest(&journeysv1.ListNominationsRequest{Community: "demo", PageSize: size, PageToken: token}))
		if err != nil {
			return nil, err
		}
		out = append(out, res.Msg.GetNominations()...)
		if token = res.Msg.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
	t.Fatal("the nominations never end")
	return nil, nil
}

// outcomes describes nominations by member, in order: "member outcome
// decided?".
func outcomes(ns []*journeysv1.Nomination) []string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s %s %t", n.GetMemberId(), n.GetOutcome(), n.GetDecidedAt() != nil))
	}
	slices.Sort(out)
	return out
}

func TestNominationsAreListedOnceEachWithTheirOutcomes(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	org := f.as(t, auth.Organiser, "org-member")
	nominate := func(member string) {
		t.Helper()
		if _, err := org.NominateAmbassador(ctx, connect.NewRequest(&journeysv1.NominateAmbassadorRequest{Community: "demo", MemberId: member})); err != nil {
			t.Fatal(err)
		}
	}
	inReview := func(member string) {
		t.Helper()
		eventually(t, member+" in review", func() string {
			res, err := org.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: member, Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR}))
			if err != nil {
				return err.Error()
			}
			if s := res.Msg.GetJourney().GetCurrentStep(); s != ambassador.StageReview {
				return "stage " + s
			}
			return ""
		})
	}
	review := func(member string, d journeysv1.ReviewDecision) {
		t.Helper()
		if _, err := org.ReviewNomination(ctx, connect.NewRequest(&journeysv1.ReviewNominationRequest{Community: "demo", MemberId: member, Decision: d})); err != nil {
			t.Fatal(err)
		}
	}
	offboard := func(member string) {
		t.Helper()
		if _, err := org.SignalJourney(ctx, connect.NewRequest(&journeysv1.SignalJourneyRequest{Community: "demo", MemberId: member,
			Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_OFFBOARD})); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{"approved", "rejected", "withdrawn", "pending"} {
		nominate(m)
		inReview(m)
	}
	review("approved", journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE)
	review("rejected", journeysv1.ReviewDecision_REVIEW_DECISION_REJECT)
	offboard("withdrawn")
	// Rejected once, nominated again: a second nomination, in review.
	eventually(t, "the rejection closing", func() string {
		res, err := org.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: "rejected", Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR}))
		if err != nil {
			return err.Error()
		}
		if j := res.Msg.GetJourney(); j.GetStatus() == journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING {
			return "still " + j.GetCurrentStep()
		}
		return ""
	})
	nominate("rejected")
	inReview("rejected")

	want := []string{
		"approved NOMINATION_OUTCOME_APPROVED true",
		"pending NOMINATION_OUTCOME_PENDING false",
		"rejected NOMINATION_OUTCOME_PENDING false",
		"rejected NOMINATION_OUTCOME_REJECTED true",
		"withdrawn NOMINATION_OUTCOME_WITHDRAWN true",
	}
	var first []*journeysv1.Nomination
	eventually(t, "the nominations", func() string {
		ns, err := listNominations(t, org, 2)
		if err != nil {
			return err.Error()
		}
		if got := outcomes(ns); !slices.Equal(got, want) {
			return fmt.Sprint(got)
		}
		first = ns
		return ""
	})
	ids := map[string]bool{}
	for _, n := range first {
		if n.GetId() == "" || ids[n.GetId()] {
			t.Errorf("nomination id %q empty or listed twice", n.GetId())
		}
		ids[n.GetId()] = true
		if n.GetNominatedAt() == nil || (n.GetOutcome() != journeysv1.NominationOutcome_NOMINATION_OUTCOME_PENDING && n.GetNominatedByKind() != ambassador.NominatedByOrganiser) {
			t.Errorf("nomination %v lacks its time or who nominated", n)
		}
		if d := n.GetDecidedAt(); d != nil && d.AsTime().Before(n.GetNominatedAt().AsTime()) {
			t.Errorf("nomination %v decided before it was made", n)
		}
	}

	// Read again, by the insights service's workload token and in one
	// page: the same nominations under the same ids.
	insights := journeysv1connect.NewJourneysServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.Workload(t)))
	again, err := listNominations(t, insights, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(again); !slices.Equal(got, want) {
		t.Errorf("read again: %v", got)
	}
	for _, n := range again {
		if !ids[n.GetId()] {
			t.Errorf("read again, nomination %v has a new id", n)
		}
	}
}

func TestListNominationsRefusesBadPagesAndOtherCommunities(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	org := f.as(t, auth.Organiser, "org-member")
	// A workload's token names no community: the request must.
	workload := journeysv1connect.NewJourneysServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.Workload(t)))
	for _, tc := range []struct {
		name   string
		caller journeysv1connect.JourneysServiceClient
		req    *journeysv1.ListNominationsRequest
		field  string
	}{
		{"no community", workload, &journeysv1.ListNominationsRequest{}, "community"},
		{"a community not served", workload, &journeysv1.ListNominationsRequest{Community: "elsewhere"}, "community"},
		{"page too large", org, &journeysv1.ListNominationsRequest{Community: "demo", PageSize: 501}, "page_size"},
		{"negative page", org, &journeysv1.ListNominationsRequest{Community: "demo", PageSize: -1}, "page_size"},
		{"bad token", org, &journeysv1.ListNominationsRequest{Community: "demo", PageToken: "%%%"}, "page_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.caller.ListNominations(ctx, connect.NewRequest(tc.req))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Contains(fields(err), tc.field) {
				t.Errorf("got %v, want InvalidArgument naming %s", err, tc.field)
			}
		})
	}
	other := journeysv1connect.NewJourneysServiceClient(http.DefaultClient, f.url, authtest.Bearer(f.issuer.For(t, "other", auth.Organiser)))
	if _, err := other.ListNominations(ctx, connect.NewRequest(&journeysv1.ListNominationsRequest{Community: "demo"})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("another community's organiser: %v", err)
	}
}

func TestARenewedAmbassadorshipIsOneNomination(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	org := f.as(t, auth.Organiser, "org-member")
	// A programme whose cycle is one check-in a second long: it renews at
	// once, continuing as new, again and again.
	if _, err := org.SaveDefinition(ctx, connect.NewRequest(&journeysv1.SaveDefinitionRequest{Community: "demo", Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR,
		Document: `{"reviewers": ["org-member"], "check_in_every": "1s", "review_every": 1, "check_ins": 1}`, Publish: true})); err != nil {
		t.Fatal(err)
	}
	if _, err := org.NominateAmbassador(ctx, connect.NewRequest(&journeysv1.NominateAmbassadorRequest{Community: "demo", MemberId: "renewer"})); err != nil {
		t.Fatal(err)
	}
	get := func() *journeysv1.Journey {
		t.Helper()
		res, err := org.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: "renewer", Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.GetJourney()
	}
	eventually(t, "the review", func() string {
		if s := get().GetCurrentStep(); s != ambassador.StageReview {
			return "stage " + s
		}
		return ""
	})
	if _, err := org.ReviewNomination(ctx, connect.NewRequest(&journeysv1.ReviewNominationRequest{Community: "demo", MemberId: "renewer",
		Decision: journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE})); err != nil {
		t.Fatal(err)
	}
	for _, task := range ambassador.DefaultProgramme().Training {
		if _, err := org.SignalJourney(ctx, connect.NewRequest(&journeysv1.SignalJourneyRequest{Community: "demo", MemberId: "renewer",
			Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_TASK_COMPLETED, Task: task.Name})); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "two renewals", func() string {
		if c := get().GetAmbassador().GetCycle(); c < 2 {
			return fmt.Sprintf("cycle %d", c)
		}
		return ""
	})
	ns, err := listNominations(t, org, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(ns); !slices.Equal(got, []string{"renewer NOMINATION_OUTCOME_APPROVED true"}) {
		t.Errorf("nominations of a renewed ambassadorship: %v", got)
	}
	if _, err := org.SignalJourney(ctx, connect.NewRequest(&journeysv1.SignalJourneyRequest{Community: "demo", MemberId: "renewer",
		Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_OFFBOARD})); err != nil {
		t.Fatal(err)
	}
}
