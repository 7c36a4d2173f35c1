package ambassador_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/internal/journeystack"
)

const wait = 30 * time.Second

// engaged joins a member and gives them an attended event, which makes
// them a Participant who was active lately.
func engaged(t *testing.T, s *journeystack.Stack, email, name string) string {
	t.Helper()
	id := s.Join(t, &membersv1.JoinCommunityRequest{Email: email, DisplayName: name, EmailConsent: true, Interests: []string{"solar"}})
	if _, err := s.Engagement.RecordActivity(context.Background(), connect.NewRequest(&membersv1.RecordActivityRequest{Community: "demo", MemberId: id,
		Type: "attended_event", OccurredAt: timestamppb.Now(), SourceEventId: "it-" + id})); err != nil {
		t.Fatal(err)
	}
	return id
}

func candidacy(t *testing.T, s *journeystack.Stack, member string) *journeysv1.Journey {
	t.Helper()
	res, err := s.Journeys.GetJourney(context.Background(), connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: member,
		Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetJourney()
}

func waitStage(t *testing.T, s *journeystack.Stack, member, stage string) {
	t.Helper()
	journeystack.Eventually(t, wait, member+" in stage "+stage, func() string {
		if got := candidacy(t, s, member).GetCurrentStep(); got != stage {
			return "stage " + got
		}
		return ""
	})
}

func roles(t *testing.T, s *journeystack.Stack, member string) []string {
	t.Helper()
	res, err := s.Members.GetMember(context.Background(), connect.NewRequest(&membersv1.GetMemberRequest{Community: "demo", Id: member}))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res.Msg.GetMember().GetRoles() {
		out = append(out, r.GetRole()+":"+r.GetTier())
	}
	return out
}

func waitMail(t *testing.T, s *journeystack.Stack, to, subject string) {
	t.Helper()
	journeystack.Eventually(t, wait, "mail "+subject+" to "+to, func() string {
		if got := s.Subjects(t, to); !slices.ContainsFunc(got, func(sub string) bool { return strings.Contains(sub, subject) }) {
			return "subjects: " + strings.Join(got, " | ")
		}
		return ""
	})
}

// TestProgrammeAgainstTheServices runs candidacies on the embedded
// Temporal server with the real members and communications services: an
// ineligible nomination is refused, an approved candidate is trained,
// given the role, takes a buddy and is offboarded with thanks; a rejected
// one is told kindly.
func TestProgrammeAgainstTheServices(t *testing.T) {
	s := journeystack.Start(t, 0)
	ctx := context.Background()
	nominate := func(member string) error {
		_, err := s.Journeys.NominateAmbassador(ctx, connect.NewRequest(&journeysv1.NominateAmbassadorRequest{Community: "demo", MemberId: member}))
		return err
	}
	signal := func(member string, sig journeysv1.JourneySignal, task string) {
		t.Helper()
		if _, err := s.Journeys.SignalJourney(ctx, connect.NewRequest(&journeysv1.SignalJourneyRequest{Community: "demo", MemberId: member,
			Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, Signal: sig, Task: task})); err != nil {
			t.Fatal(err)
		}
	}
	review := func(member string, d journeysv1.ReviewDecision) {
		t.Helper()
		if _, err := s.Journeys.ReviewNomination(ctx, connect.NewRequest(&journeysv1.ReviewNominationRequest{Community: "demo", MemberId: member, Decision: d})); err != nil {
			t.Fatal(err)
		}
	}

	quiet := s.Join(t, &membersv1.JoinCommunityRequest{Email: "quiet@example.org", DisplayName: "Quinn", EmailConsent: true})
	if err := nominate(quiet); connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "below") {
		t.Errorf("nominating an Observer: %v", err)
	}
	if err := nominate("not-a-member"); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("nominating a non-member: %v", err)
	}

	cand := engaged(t, s, "cara@example.org", "Cara")
	if err := nominate(cand); err != nil {
		t.Fatal(err)
	}
	waitStage(t, s, cand, ambassador.StageReview)
	review(cand, journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE)
	waitStage(t, s, cand, ambassador.StageTraining)
	waitMail(t, s, "cara@example.org", "ambassador training")
	for _, task := range ambassador.DefaultProgramme().Training {
		signal(cand, journeysv1.JourneySignal_JOURNEY_SIGNAL_TASK_COMPLETED, task.Name)
	}
	waitStage(t, s, cand, ambassador.StageActive)
	waitMail(t, s, "cara@example.org", "You are a demo ambassador now")
	if got := roles(t, s, cand); !slices.Contains(got, "ambassador:bronze") {
		t.Errorf("roles after activation %v", got)
	}
	journeystack.Eventually(t, wait, "the roster lists the ambassador", func() string {
		res, err := s.Journeys.ListProgramme(ctx, connect.NewRequest(&journeysv1.ListProgrammeRequest{Community: "demo"}))
		if err != nil {
			return err.Error()
		}
		for _, e := range res.Msg.GetEntries() {
			if e.GetMemberId() == cand && e.GetStage() == ambassador.StageActive && e.GetTier() == "bronze" {
				return ""
			}
		}
		return "not listed"
	})

	// The real book reserves through the running workflow.
	book := ambassador.Book{Temporal: s.Temporal}
	if ok, err := book.Reserve(ctx, "demo", cand, "newcomer-1"); err != nil || !ok {
		t.Fatalf("reserve = %v, %v", ok, err)
	}
	journeystack.Eventually(t, wait, "the buddy listed", func() string {
		if got := candidacy(t, s, cand).GetAmbassador().GetBuddyIds(); !slices.Equal(got, []string{"newcomer-1"}) {
			return "buddies: " + strings.Join(got, ",")
		}
		return ""
	})

	signal(cand, journeysv1.JourneySignal_JOURNEY_SIGNAL_OFFBOARD, "")
	journeystack.Eventually(t, wait, "offboarded", func() string {
		if j := candidacy(t, s, cand); j.GetOutcome() != ambassador.OutcomeOffboarded {
			return "outcome " + j.GetOutcome()
		}
		return ""
	})
	waitMail(t, s, "cara@example.org", "Thank you from demo")
	s.ReplayAndKeep(t, ambassador.WorkflowID("demo", cand), "", ambassador.Workflow, ambassador.WorkflowName, "ambassador-integration-offboarded.json")
	if got := roles(t, s, cand); slices.ContainsFunc(got, func(r string) bool { return strings.HasPrefix(r, "ambassador") }) {
		t.Errorf("roles after offboarding %v", got)
	}

	other := engaged(t, s, "otto@example.org", "Otto")
	if err := nominate(other); err != nil {
		t.Fatal(err)
	}
	waitStage(t, s, other, ambassador.StageReview)
	review(other, journeysv1.ReviewDecision_REVIEW_DECISION_REJECT)
	journeystack.Eventually(t, wait, "declined", func() string {
		if j := candidacy(t, s, other); j.GetOutcome() != ambassador.OutcomeDeclined {
			return "outcome " + j.GetOutcome()
		}
		return ""
	})
	waitMail(t, s, "otto@example.org", "About your demo ambassador nomination")
	if got := roles(t, s, other); len(got) > 1 {
		t.Errorf("a declined candidate holds %v", got)
	}
}
