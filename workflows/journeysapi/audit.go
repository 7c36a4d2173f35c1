package journeysapi

import (
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/workflows/definitions"
)

// Audit actions of the journeys API, besides the definitions store's
// (definitions.ActionSaved, ActionPublished, ActionSeeded). Each names the
// journey (its workflow id) it acted on, a definition as "<kind>/<version>",
// or the segment or member count of a cohort start.
const (
	ActionCohortStarted = "journeys.cohort_started"
	ActionNominated     = "ambassador.nominated"
	ActionReviewed      = "ambassador.nomination_reviewed"
	ActionPaused        = "journey.paused"
	ActionResumed       = "journey.resumed"
	ActionSkipped       = "journey.step_skipped"
	ActionRestarted     = "journey.restarted"
	ActionCancelled     = "journey.cancelled"
	ActionMigrated      = "journey.migrated"
	ActionProfileMarked = "journey.profile_marked_complete"
	ActionTaskMarked    = "journey.task_marked_complete"
	ActionOffboardAsked = "journey.offboarding_requested"
	ActionTestRun       = "journey_definition.test_run"

	targetJourney    = "journey"
	targetSegment    = "segment"
	targetMemberList = "member_ids"
)

// Catalogue says what each mutating procedure of the journeys API records
// in the worker's audit log, in the same transaction as its effect where
// the effect is the log's own database (definitions), and just before it
// otherwise (a journey's workflow on Temporal: when that call fails the
// entry is rolled back).
func Catalogue() audit.Catalogue {
	return audit.Catalogue{
		journeysv1connect.JourneysServiceStartOnboardingProcedure:    {ActionCohortStarted},
		journeysv1connect.JourneysServiceSignalJourneyProcedure:      {ActionPaused, ActionResumed, ActionSkipped, ActionProfileMarked, ActionTaskMarked, ActionOffboardAsked},
		journeysv1connect.JourneysServiceCancelJourneyProcedure:      {ActionCancelled},
		journeysv1connect.JourneysServiceNominateAmbassadorProcedure: {ActionNominated},
		journeysv1connect.JourneysServiceReviewNominationProcedure:   {ActionReviewed},
		journeysv1connect.JourneysServiceSaveDefinitionProcedure:     {definitions.ActionSaved, definitions.ActionSeeded, definitions.ActionPublished},
		journeysv1connect.JourneysServicePublishDefinitionProcedure:  {definitions.ActionPublished},
		journeysv1connect.JourneysServiceTestRunDefinitionProcedure:  {ActionTestRun},
		journeysv1connect.JourneysServiceSteerJourneysProcedure:      {ActionPaused, ActionResumed, ActionSkipped, ActionRestarted, ActionCancelled},
		journeysv1connect.JourneysServiceMigrateJourneysProcedure:    {ActionMigrated},
	}
}
