package onboarding_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/internal/journeystack"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

const wait = 30 * time.Second

func journey(t *testing.T, s *journeystack.Stack, member string, kind journeysv1.JourneyKind) *journeysv1.Journey {
	t.Helper()
	res, err := s.Journeys.GetJourney(context.Background(), connect.NewRequest(&journeysv1.GetJourneyRequest{Community: "demo", MemberId: member, Kind: kind}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.GetJourney()
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

// activeAmbassador takes a member in Berlin who likes solar through the
// programme, as an organiser would.
func activeAmbassador(t *testing.T, s *journeystack.Stack) string {
	t.Helper()
	ctx := context.Background()
	id := s.Join(t, &membersv1.JoinCommunityRequest{Email: "ambra@example.org", DisplayName: "Ambra", EmailConsent: true, Interests: []string{"solar"},
		Profile: &membersv1.Profile{Location: &membersv1.Location{City: "Berlin", CountryCode: "DE"}}})
	if _, err := s.Engagement.RecordActivity(ctx, connect.NewRequest(&membersv1.RecordActivityRequest{Community: "demo", MemberId: id,
		Type: "attended_event", OccurredAt: timestamppb.Now(), SourceEventId: "it-" + id})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Journeys.NominateAmbassador(ctx, connect.NewRequest(&journeysv1.NominateAmbassadorRequest{Community: "demo", MemberId: id})); err != nil {
		t.Fatal(err)
	}
	stage := func(want string) {
		t.Helper()
		journeystack.Eventually(t, wait, "ambassador "+want, func() string {
			if got := journey(t, s, id, journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR).GetCurrentStep(); got != want {
				return "stage " + got
			}
			return ""
		})
	}
	stage(ambassador.StageReview)
	if _, err := s.Journeys.ReviewNomination(ctx, connect.NewRequest(&journeysv1.ReviewNominationRequest{Community: "demo", MemberId: id,
		Decision: journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE})); err != nil {
		t.Fatal(err)
	}
	stage(ambassador.StageTraining)
	for _, task := range ambassador.DefaultProgramme().Training {
		if _, err := s.Journeys.SignalJourney(ctx, connect.NewRequest(&journeysv1.SignalJourneyRequest{Community: "demo", MemberId: id,
			Kind: journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, Signal: journeysv1.JourneySignal_JOURNEY_SIGNAL_TASK_COMPLETED, Task: task.Name})); err != nil {
			t.Fatal(err)
		}
	}
	stage(ambassador.StageActive)
	return id
}

// solarEvent publishes an offline event in Berlin starting in an hour, so
// check-in is open.
func solarEvent(t *testing.T, s *journeystack.Stack) (eventID, occurrenceID string) {
	t.Helper()
	ctx := context.Background()
	start := time.Now().Add(time.Hour).Truncate(time.Minute)
	created, err := s.Events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: "demo", Event: &eventsv1.EventSpec{
		Title: "Solar repair café", Kind: eventsv1.EventKind_EVENT_KIND_OFFLINE,
		Venue:     &eventsv1.Venue{Name: "Community hall", Street: "Hauptstraße 1", City: "Berlin", CountryCode: "DE"},
		StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(2 * time.Hour)), TimeZone: "Europe/Berlin",
		Tags: []string{"solar"}, Visibility: eventsv1.Visibility_VISIBILITY_PUBLIC,
	}}))
	if err != nil {
		t.Fatal(err)
	}
	e := created.Msg.GetEvent()
	if _, err := s.Events.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: "demo", Id: e.GetId()})); err != nil {
		t.Fatal(err)
	}
	return e.GetId(), e.GetOccurrences()[0].GetId()
}

// TestJourneyAgainstTheServices follows a newcomer's default journey on
// the embedded Temporal server with the real services and the worker's
// trigger: welcome, a profile reminder, the profile completed through the
// members API, an event suggestion, an ambassador buddy, the first
// check-in through the events API — and MemberOnboarded on members.v1.
func TestJourneyAgainstTheServices(t *testing.T) {
	s := journeystack.Start(t, 700*time.Millisecond)
	ctx := context.Background()
	amb := activeAmbassador(t, s)
	eventID, occurrenceID := solarEvent(t, s)

	const email = "nia@example.org"
	nia := s.Join(t, &membersv1.JoinCommunityRequest{Email: email, DisplayName: "Nia", EmailConsent: true, Interests: []string{"solar"},
		Profile: &membersv1.Profile{Location: &membersv1.Location{City: "Berlin", CountryCode: "DE"}}})
	waitMail(t, s, email, "Welcome to demo")
	waitMail(t, s, email, "finish setting up your demo profile")
	// The default journey waits for the profile in steps between its
	// reminders: complete-profile, complete-profile-2, ...
	if j := journey(t, s, nia, journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING); !strings.HasPrefix(j.GetCurrentStep(), onboarding.StepCompleteProfile) ||
		j.GetOnboarding().GetDefinitionVersion() != 1 {
		t.Errorf("before the profile: step %s of version %d", j.GetCurrentStep(), j.GetOnboarding().GetDefinitionVersion())
	}

	// The profile completed through the members API ends the step.
	if _, err := s.Members.UpdateProfile(ctx, connect.NewRequest(&membersv1.UpdateProfileRequest{Community: "demo", Id: nia,
		Profile: &membersv1.Profile{TimeZone: "Europe/Berlin"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"time_zone"}}})); err != nil {
		t.Fatal(err)
	}
	waitMail(t, s, email, "events for you in demo")
	waitMail(t, s, email, "meet your demo buddy")
	waitMail(t, s, "ambra@example.org", "you have a new buddy")
	if text := mailText(s.Mail(t, email)); !strings.Contains(text, "Solar repair café") || !strings.Contains(text, "Ambra, one of our ambassadors") {
		t.Errorf("the suggestion or the buddy is missing from the e-mails: %s", text)
	}
	journeystack.Eventually(t, wait, "waiting for the first attendance", func() string {
		j := journey(t, s, nia, journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING)
		if !strings.HasPrefix(j.GetCurrentStep(), onboarding.StepFirstAttendance) || j.GetOnboarding().GetBuddyId() != amb ||
			!slices.Equal(j.GetOnboarding().GetSuggestedEventIds(), []string{eventID}) || j.GetNextDeadline() == nil {
			return j.String()
		}
		return ""
	})
	if got := journey(t, s, amb, journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR).GetAmbassador().GetBuddyIds(); !slices.Equal(got, []string{nia}) {
		t.Errorf("the ambassador buddies %v", got)
	}

	// The first check-in, through the events API, completes the journey.
	if _, err := s.Attendance.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{Community: "demo", EventId: eventID, OccurrenceId: occurrenceID,
		MemberId: nia, Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attendance.CheckIn(ctx, connect.NewRequest(&eventsv1.CheckInRequest{Community: "demo", OccurrenceId: occurrenceID, MemberId: nia})); err != nil {
		t.Fatal(err)
	}
	journeystack.Eventually(t, wait, "onboarded", func() string {
		j := journey(t, s, nia, journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING)
		if j.GetOutcome() != onboarding.OutcomeOnboarded || j.GetStatus() != journeysv1.JourneyStatus_JOURNEY_STATUS_COMPLETED {
			return "outcome " + j.GetOutcome() + " status " + j.GetStatus().String()
		}
		return ""
	})
	journeystack.Eventually(t, wait, "MemberOnboarded on members.v1", func() string {
		if n := len(s.EventsOn(t, memberevents.Topic("demo"), memberevents.TypeMemberOnboarded, nia)); n != 1 {
			return "events: " + strings.Repeat("x", n)
		}
		return ""
	})
	journeystack.Eventually(t, wait, "the buddy's place freed", func() string {
		if got := journey(t, s, amb, journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR).GetAmbassador().GetBuddyIds(); len(got) != 0 {
			return "buddies: " + strings.Join(got, ",")
		}
		return ""
	})
	eng, err := s.Engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{Community: "demo", MemberId: nia}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(eng.Msg.GetRecent(), func(a *membersv1.Activity) bool { return a.GetType() == "onboarded" }) {
		t.Errorf("activities %v", eng.Msg.GetRecent())
	}

	s.ReplayAndKeep(t, onboarding.WorkflowID("demo", nia), "", onboarding.Workflow, onboarding.WorkflowName, "onboarding-v4-integration-onboarded.json")

	// Leaving cancels a journey: a second newcomer leaves mid-way.
	leo := s.Join(t, &membersv1.JoinCommunityRequest{Email: "leo@example.org", DisplayName: "Leo", EmailConsent: true})
	waitMail(t, s, "leo@example.org", "Welcome to demo")
	if _, err := s.Members.LeaveCommunity(ctx, connect.NewRequest(&membersv1.LeaveCommunityRequest{Community: "demo", Id: leo})); err != nil {
		t.Fatal(err)
	}
	journeystack.Eventually(t, wait, "the leaver's journey cancelled", func() string {
		if st := journey(t, s, leo, journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING).GetStatus(); st != journeysv1.JourneyStatus_JOURNEY_STATUS_CANCELLED {
			return st.String()
		}
		return ""
	})
}

func mailText(msgs []smtpsink.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Text)
	}
	return b.String()
}
