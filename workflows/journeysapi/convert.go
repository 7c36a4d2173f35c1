package journeysapi

import (
	"errors"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

type workflowInfo = workflowpb.WorkflowExecutionInfo

func isNotFound(err error) bool {
	var notFound *serviceerror.NotFound
	return errors.As(err, &notFound)
}

// statusOf maps a workflow status to a journey status.
func statusOf(s enumspb.WorkflowExecutionStatus) journeysv1.JourneyStatus {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return journeysv1.JourneyStatus_JOURNEY_STATUS_COMPLETED
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return journeysv1.JourneyStatus_JOURNEY_STATUS_CANCELLED
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return journeysv1.JourneyStatus_JOURNEY_STATUS_FAILED
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return journeysv1.JourneyStatus_JOURNEY_STATUS_TERMINATED
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return journeysv1.JourneyStatus_JOURNEY_STATUS_TIMED_OUT
	}
	return journeysv1.JourneyStatus_JOURNEY_STATUS_UNSPECIFIED
}

// temporalStatus is the visibility query's name of a journey status.
func temporalStatus(s journeysv1.JourneyStatus) (string, bool) {
	switch s {
	case journeysv1.JourneyStatus_JOURNEY_STATUS_RUNNING:
		return "Running", true
	case journeysv1.JourneyStatus_JOURNEY_STATUS_COMPLETED:
		return "Completed", true
	case journeysv1.JourneyStatus_JOURNEY_STATUS_CANCELLED:
		return "Canceled", true
	case journeysv1.JourneyStatus_JOURNEY_STATUS_FAILED:
		return "Failed", true
	case journeysv1.JourneyStatus_JOURNEY_STATUS_TERMINATED:
		return "Terminated", true
	case journeysv1.JourneyStatus_JOURNEY_STATUS_TIMED_OUT:
		return "TimedOut", true
	}
	return "", false
}

// memo reads a workflow's memo fields; missing or unreadable ones are
// zero values (journeys of the first version have no memo).
type memo map[string]*commonpb.Payload

func memoOf(m *commonpb.Memo) memo { return m.GetFields() }

func (m memo) str(key string) string {
	var s string
	if p, ok := m[key]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}

func (m memo) flag(key string) bool {
	var b bool
	if p, ok := m[key]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &b)
	}
	return b
}

func (m memo) number(key string) int32 {
	var n int32
	if p, ok := m[key]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &n)
	}
	return n
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fillOnboarding(j *journeysv1.Journey, s onboarding.State) {
	j.CurrentStep, j.Paused, j.Outcome = s.Step, s.Paused, s.Outcome
	j.NextDeadline = ts(s.NextDeadline)
	for _, e := range s.History {
		j.History = append(j.History, &journeysv1.JourneyEvent{At: timestamppb.New(e.At), Step: e.Step, Event: e.Event, Detail: e.Detail})
	}
	steps := s.Steps
	if s.Version == 1 {
		steps = []string{onboarding.StepWelcome, onboarding.StepCompleteProfile}
	}
	j.Detail = &journeysv1.Journey_Onboarding{Onboarding: &journeysv1.OnboardingDetail{
		Steps: steps, ProfileCompleted: s.ProfileCompleted, Attended: s.Attended,
		SuggestedEventIds: s.SuggestedEventIDs, BuddyId: s.BuddyID,
		DefinitionVersion: int32(s.DefinitionVersion), Tags: s.Tags, Rsvped: s.RSVPed, TestRun: s.Test,
	}}
}

func fillAmbassador(j *journeysv1.Journey, s ambassador.State) {
	j.CurrentStep, j.Outcome = s.Stage, s.Outcome
	j.NextDeadline = ts(s.NextDeadline)
	for _, e := range s.History {
		j.History = append(j.History, &journeysv1.JourneyEvent{At: timestamppb.New(e.At), Step: e.Stage, Event: e.Event, Detail: e.Detail})
	}
	d := &journeysv1.AmbassadorDetail{
		NominatedByKind: s.Nomination.Kind, Tier: s.Tier, Cycle: int32(s.Cycle), ActivatedAt: ts(s.ActivatedAt),
		Reviewers: s.Reviewers, BuddyIds: s.Buddies, Capacity: int32(s.Capacity), IneligibleReasons: s.Eligibility.Reasons,
		ProgrammeVersion: int32(s.ProgrammeVersion),
	}
	for _, r := range s.Reviews {
		if r.Approve {
			d.Approvals++
		}
	}
	for _, t := range s.Tasks {
		d.Training = append(d.Training, &journeysv1.TrainingTask{Name: t.Name, Due: timestamppb.New(t.Due), Done: t.Done})
	}
	for _, q := range s.Quotas {
		d.Quotas = append(d.Quotas, &journeysv1.QuotaProgress{Activity: q.Activity, Target: int32(q.Target), Count: int32(q.Count)})
	}
	j.Detail = &journeysv1.Journey_Ambassador{Ambassador: d}
}
