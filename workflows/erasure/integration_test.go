package erasure_test

import (
	"context"
	"flag"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	"github.com/kinshiphq/kinship/gen/kinship/events/v1/eventsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	partnersv1 "github.com/kinshiphq/kinship/gen/kinship/partners/v1"
	"github.com/kinshiphq/kinship/gen/kinship/partners/v1/partnersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/erasure"
	"github.com/kinshiphq/kinship/workflows/internal/replaytest"
	"github.com/kinshiphq/kinship/workflows/internal/stacktest"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

var record = flag.Bool("record", false, "write the real server's history of an erasure to testdata/")

const recordedHistory = "testdata/erasure-everywhere.json"

// standIn waits until it is cancelled, in place of a member's onboarding
// journey.
func standIn(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return false })
}

// TestErasureOnTheRealStack erases a member in the real members service,
// starts the erasure from the MemberErased event it published, as the
// trigger does, and checks the member is gone from communications, events
// and partners, their onboarding journey is cancelled, and the receipt
// says so.
func TestErasureOnTheRealStack(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Members: true, Communications: true, Events: true, Partners: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	organiser := s.As(t, auth.Organiser)
	const community = stacktest.Community

	// Ada joins, holds a seat, was sent a message and made a contribution
	// for a partner.
	mem := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.MembersURL, organiser)
	joined, err := mem.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{Community: community, Email: "ada@example.org",
		DisplayName: "Ada Lovelace", EmailConsent: true}))
	if err != nil {
		t.Fatal(err)
	}
	ada := joined.Msg.GetMember().GetId()
	events := eventsv1connect.NewEventsServiceClient(http.DefaultClient, s.EventsURL, organiser)
	attendance := eventsv1connect.NewAttendanceServiceClient(http.DefaultClient, s.EventsURL, organiser)
	at := time.Now().UTC().Truncate(time.Hour).Add(72 * time.Hour)
	created, err := events.CreateEvent(ctx, connect.NewRequest(&eventsv1.CreateEventRequest{Community: community, Event: &eventsv1.EventSpec{
		Title: "Repair café", Kind: eventsv1.EventKind_EVENT_KIND_ONLINE, OnlineUrl: "https://meet.example.org/repair",
		StartTime: timestamppb.New(at), EndTime: timestamppb.New(at.Add(time.Hour)), TimeZone: "UTC"}}))
	if err != nil {
		t.Fatal(err)
	}
	published, err := events.PublishEvent(ctx, connect.NewRequest(&eventsv1.PublishEventRequest{Community: community, Id: created.Msg.GetEvent().GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	occurrence := published.Msg.GetEvent().GetOccurrences()[0].GetId()
	if _, err := attendance.RSVP(ctx, connect.NewRequest(&eventsv1.RSVPRequest{Community: community, EventId: published.Msg.GetEvent().GetId(),
		OccurrenceId: occurrence, MemberId: ada, Answer: eventsv1.RSVPAnswer_RSVP_ANSWER_GOING})); err != nil {
		t.Fatal(err)
	}
	// Communications learns of Ada from the members topic; a message to
	// her is refused until it has.
	prefs := communicationsv1connect.NewAnnouncementsServiceClient(http.DefaultClient, s.CommunicationsURL, organiser)
	stacktest.Eventually(t, 20*time.Second, "communications to know Ada", func() string {
		_, err := prefs.GetPreferences(ctx, connect.NewRequest(&communicationsv1.GetPreferencesRequest{Community: community, MemberId: ada}))
		if err != nil {
			return err.Error()
		}
		return ""
	})
	comms := communicationsv1connect.NewCommunicationsServiceClient(http.DefaultClient, s.CommunicationsURL, organiser)
	if _, err := comms.SendMessage(ctx, connect.NewRequest(&communicationsv1.SendMessageRequest{Community: community, IdempotencyKey: "hello-ada",
		MemberId: ada, ToEmail: "ada@example.org", Subject: "Hello Ada", TextBody: "Thank you for joining."})); err != nil {
		t.Fatal(err)
	}
	partners := partnersv1connect.NewPartnersServiceClient(http.DefaultClient, s.PartnersURL, organiser)
	partner, err := partners.AddPartner(ctx, connect.NewRequest(&partnersv1.AddPartnerRequest{Community: community, Name: "Repair Guild", Kind: partnersv1.PartnerKind_PARTNER_KIND_NGO}))
	if err != nil {
		t.Fatal(err)
	}
	contributions := partnersv1connect.NewContributionsServiceClient(http.DefaultClient, s.PartnersURL, organiser)
	if _, err := contributions.RecordContribution(ctx, connect.NewRequest(&partnersv1.RecordContributionRequest{Community: community,
		PartnerId: partner.Msg.GetPartner().GetId(), Kind: partnersv1.ContributionKind_CONTRIBUTION_KIND_VOLUNTEER_HOURS,
		Date: time.Now().UTC().Format(time.DateOnly), VolunteerMinutes: 120, MemberId: ada})); err != nil {
		t.Fatal(err)
	}

	// Ada's onboarding journey is running (a stand-in with its id).
	s.Worker(t, "stand-in", func(r worker.Registry) {
		r.RegisterWorkflowWithOptions(standIn, workflow.RegisterOptions{Name: "StandIn"})
	})
	journey, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: onboarding.WorkflowID(community, ada), TaskQueue: "stand-in"}, "StandIn")
	if err != nil {
		t.Fatal(err)
	}

	acts := &erasure.Activities{
		Communications: communicationsv1connect.NewCommunicationsServiceClient(s.HTTPClient(), s.CommunicationsURL, s.Workload()...),
		Events:         eventsv1connect.NewAttendanceServiceClient(s.HTTPClient(), s.EventsURL, s.Workload()...),
		Partners:       partnersv1connect.NewContributionsServiceClient(s.HTTPClient(), s.PartnersURL, s.Workload()...),
	}
	s.Worker(t, erasure.TaskQueue, func(r worker.Registry) { erasure.Register(r, acts) })

	// The organiser erases Ada; the trigger would receive MemberErased.
	if _, err := mem.EraseMember(ctx, connect.NewRequest(&membersv1.EraseMemberRequest{Community: community, MemberId: ada})); err != nil {
		t.Fatal(err)
	}
	erasedEvent := s.WaitForEvent(t, memberevents.Topic(community), memberevents.TypeMemberErased, ada, 20*time.Second)
	erased, err := erasure.Decode(erasedEvent)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} { // the second is a redelivery
		started, err := erasure.Handle(ctx, s.Temporal, community, erasedEvent)
		if err != nil || started != want {
			t.Fatalf("Handle #%d = %v, %v; want %v", i+1, started, err, want)
		}
	}
	run := s.Temporal.GetWorkflow(ctx, erasure.WorkflowID(community, ada), "")
	var receipt erasure.Receipt
	if err := run.Get(ctx, &receipt); err != nil {
		t.Fatal(err)
	}

	if !receipt.Confirmed() || len(receipt.Stores) != 4 || receipt.CompletedAt.IsZero() {
		t.Errorf("receipt = %+v", receipt)
	}
	if got := receipt.Stores[0].ConfirmedAt; !got.Equal(erased.GetErasedAt().AsTime()) {
		t.Errorf("members confirmed at %v, want the MemberErased time %v", got, erased.GetErasedAt().AsTime())
	}
	if len(receipt.Workflows) != 2 || receipt.Workflows[0] != (erasure.WorkflowOutcome{WorkflowID: onboarding.WorkflowID(community, ada), Outcome: erasure.OutcomeCancelRequested}) ||
		receipt.Workflows[1] != (erasure.WorkflowOutcome{WorkflowID: ambassador.WorkflowID(community, ada), Outcome: erasure.OutcomeNotRunning}) {
		t.Errorf("workflows = %+v", receipt.Workflows)
	}
	if err := journey.Get(ctx, nil); err == nil {
		t.Error("the onboarding journey was not cancelled")
	}
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, journey.GetID(), journey.GetRunID())
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("journey = %v, %v; want cancelled", d.GetWorkflowExecutionInfo().GetStatus(), err)
	}
	v, err := s.Temporal.QueryWorkflow(ctx, erasure.WorkflowID(community, ada), "", erasure.QueryReceipt)
	if err != nil {
		t.Fatal(err)
	}
	var queried erasure.Receipt
	if err := v.Get(&queried); err != nil || !queried.Confirmed() || !queried.CompletedAt.Equal(receipt.CompletedAt) {
		t.Errorf("queried receipt = %+v, %v", queried, err)
	}

	// Each service forgot her.
	if _, err := prefs.GetPreferences(ctx, connect.NewRequest(&communicationsv1.GetPreferencesRequest{Community: community, MemberId: ada})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("Ada's preferences after erasure: %v, want her unknown", err)
	}
	log, err := comms.ListDeliveries(ctx, connect.NewRequest(&communicationsv1.ListDeliveriesRequest{Community: community, MemberId: ada}))
	if err != nil || len(log.Msg.GetMessages()) != 1 || log.Msg.GetMessages()[0].GetSubject() != "" {
		t.Errorf("Ada's delivery log = %v, %v; want one message without content", log.Msg.GetMessages(), err)
	}
	rsvp, err := attendance.GetRSVP(ctx, connect.NewRequest(&eventsv1.GetRSVPRequest{Community: community, OccurrenceId: occurrence, MemberId: ada}))
	if err != nil || rsvp.Msg.GetRsvp().GetStatus() != eventsv1.RSVPStatus_RSVP_STATUS_CANCELLED {
		t.Errorf("Ada's RSVP = %v, %v; want withdrawn", rsvp.Msg.GetRsvp(), err)
	}
	listed, err := contributions.ListContributions(ctx, connect.NewRequest(&partnersv1.ListContributionsRequest{Community: community}))
	if err != nil || len(listed.Msg.GetContributions()) != 1 || listed.Msg.GetContributions()[0].GetMemberId() != "" {
		t.Errorf("contributions = %v, %v; want the contribution kept without Ada's id", listed.Msg.GetContributions(), err)
	}
	if counts := receipt.Stores[3].Erased; len(counts) != 1 || counts[0] != (erasure.Count{What: "contributions_unlinked", N: 1}) {
		t.Errorf("partners counts = %v, want the one contribution unlinked", counts)
	}

	replaytest.Keep(t, erasure.Workflow, workflow.RegisterOptions{Name: erasure.WorkflowName},
		replaytest.History(t, s.Temporal, erasure.WorkflowID(community, ada), ""), recordedHistory, *record)
}
