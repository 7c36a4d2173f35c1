package ambassador

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/timestamppb"

	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/templates"
)

// Error types that end an activity without retrying.
const (
	// ErrTypeMemberNotFound: the candidate is not (any more) in the
	// community.
	ErrTypeMemberNotFound = "MemberNotFound"
	// ErrTypeNotFound: something else the call named does not exist, such
	// as an announcement template.
	ErrTypeNotFound       = "NotFound"
	ErrTypeInvalidRequest = "InvalidRequest"
)

// RoleAmbassador is the members service role an active ambassador holds.
const RoleAmbassador = "ambassador"

// Activities call the members and communications APIs. They take and
// return ids; names and addresses are looked up where a message is sent.
type Activities struct {
	Members        membersv1connect.MembersServiceClient
	Engagement     membersv1connect.EngagementServiceClient
	Communications communicationsv1connect.CommunicationsServiceClient
	Announcements  communicationsv1connect.AnnouncementsServiceClient
	// Templates makes sure of the programme's templates before they are
	// sent; nil sends without asking (the templates exist).
	Templates *templates.Ensurer
	// Programmes answers the community's current programme, which a
	// renewed cycle takes.
	Programmes ProgrammeSource
}

// ProgrammeSource gives a community's current programme and its version.
type ProgrammeSource interface {
	CurrentProgramme(ctx context.Context, community string) (Programme, int, error)
}

// EligibilityInput asks whether a member meets the criteria.
type EligibilityInput struct {
	Community string
	MemberID  string
	Criteria  Criteria
}

// CheckEligibility checks a nomination against the criteria now.
func (a *Activities) CheckEligibility(ctx context.Context, in EligibilityInput) (Eligibility, error) {
	e, err := Assess(ctx, a.Members, a.Engagement, in.Community, in.MemberID, in.Criteria, time.Now())
	if err != nil {
		return Eligibility{}, classifyMember(err)
	}
	return e, nil
}

// TierInput names a member and, to assign, a tier.
type TierInput struct {
	Community string
	MemberID  string
	Tier      string
}

// AssignTier gives the member the ambassador role at tier; assigning the
// same role again replaces the tier, so a retry is harmless.
func (a *Activities) AssignTier(ctx context.Context, in TierInput) error {
	_, err := a.Members.AssignRole(ctx, connect.NewRequest(&membersv1.AssignRoleRequest{
		Community: in.Community, MemberId: in.MemberID, Role: RoleAmbassador, Tier: in.Tier,
	}))
	if err != nil {
		return classifyMember(fmt.Errorf("assign ambassador tier %s: %w", in.Tier, err))
	}
	return nil
}

// RevokeRole takes the ambassador role away. A role already gone (a
// retry, or an organiser who revoked it by hand) is no error.
func (a *Activities) RevokeRole(ctx context.Context, in TierInput) error {
	_, err := a.Members.RevokeRole(ctx, connect.NewRequest(&membersv1.RevokeRoleRequest{
		Community: in.Community, MemberId: in.MemberID, Role: RoleAmbassador,
	}))
	if connect.CodeOf(err) == connect.CodeNotFound {
		return nil
	}
	if err != nil {
		return classifyMember(fmt.Errorf("revoke ambassador role: %w", err))
	}
	return nil
}

// QuotaInput asks how far an ambassador got with their quotas since a
// period began.
type QuotaInput struct {
	Community string
	MemberID  string
	Since     time.Time
	Quotas    []Quota
}

// MeasureQuotas counts the ambassador's activities of each quota's type
// since in.Since, from their activity ledger.
func (a *Activities) MeasureQuotas(ctx context.Context, in QuotaInput) ([]QuotaProgress, error) {
	res, err := a.Engagement.GetEngagement(ctx, connect.NewRequest(&membersv1.GetEngagementRequest{Community: in.Community, MemberId: in.MemberID}))
	if err != nil {
		return nil, classifyMember(fmt.Errorf("read engagement: %w", err))
	}
	out := make([]QuotaProgress, 0, len(in.Quotas))
	for _, q := range in.Quotas {
		p := QuotaProgress{Activity: q.Activity, Target: q.Count}
		for _, act := range res.Msg.GetRecent() {
			if act.GetType() == q.Activity && !act.GetOccurredAt().AsTime().Before(in.Since) {
				p.Count++
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// AnnounceInput announces a new ambassador to the community.
type AnnounceInput struct {
	Community  string
	MemberID   string
	WorkflowID string
	Template   string
}

// Announce queues the community's announcement of a new ambassador, once
// per ambassadorship. The template sees the ambassador's name as
// {{.Vars.ambassador_name}}.
func (a *Activities) Announce(ctx context.Context, in AnnounceInput) error {
	m, err := a.Members.GetMember(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Community: in.Community, Id: in.MemberID}))
	if err != nil {
		return classifyMember(fmt.Errorf("look up member: %w", err))
	}
	_, err = a.Announcements.CreateAnnouncement(ctx, connect.NewRequest(&communicationsv1.CreateAnnouncementRequest{
		Community: in.Community, Template: in.Template, Kind: communicationsv1.AnnouncementKind_ANNOUNCEMENT_KIND_ANNOUNCEMENT,
		Filter: &membersv1.SegmentFilter{}, IdempotencyKey: in.WorkflowID + "/announce",
		Variables: map[string]string{"ambassador_name": m.Msg.GetMember().GetDisplayName()},
	}))
	if err != nil {
		return classify(fmt.Errorf("announce the new ambassador: %w", err), ErrTypeNotFound)
	}
	return nil
}

// classifyMember marks errors retrying cannot fix; NotFound means the
// member is gone.
func classifyMember(err error) error { return classify(err, ErrTypeMemberNotFound) }

// classify marks errors retrying cannot fix as non-retryable, NotFound as
// notFoundType.
func classify(err error, notFoundType string) error {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return err
	}
	switch cerr.Code() {
	case connect.CodeNotFound:
		return temporal.NewNonRetryableApplicationError(err.Error(), notFoundType, err)
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodePermissionDenied, connect.CodeUnauthenticated, connect.CodeAlreadyExists:
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidRequest, err)
	}
	return err
}

// RecordTaskCompleted records a completed training task as a
// completed_task activity, with the task's name as a property; the
// candidacy and task are its source event, so it counts once.
func (a *Activities) RecordTaskCompleted(ctx context.Context, in TaskActivityInput) error {
	_, err := a.Engagement.RecordActivity(ctx, connect.NewRequest(&membersv1.RecordActivityRequest{
		Community: in.Community, MemberId: in.MemberID, Type: ActivityCompletedTask,
		OccurredAt: timestamppb.New(in.At), SourceEventId: in.SourceEventID, Properties: map[string]string{"task": in.Task},
	}))
	if err != nil {
		return classifyMember(fmt.Errorf("record completed task %s: %w", in.Task, err))
	}
	return nil
}

// ReadProgramme reads the community's current programme; none (Version
// 0) when the worker keeps no programmes.
func (a *Activities) ReadProgramme(ctx context.Context, community string) (CurrentProgramme, error) {
	if a.Programmes == nil {
		return CurrentProgramme{}, nil
	}
	p, v, err := a.Programmes.CurrentProgramme(ctx, community)
	if err != nil {
		return CurrentProgramme{}, fmt.Errorf("read the current programme: %w", err)
	}
	return CurrentProgramme{Programme: p, Version: v}, nil
}
