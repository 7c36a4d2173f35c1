package journeysapi_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kinshiphq/kinship/gen/kinship/audit/v1/auditv1connect"
	communicationsv1 "github.com/kinshiphq/kinship/gen/kinship/communications/v1"
	"github.com/kinshiphq/kinship/gen/kinship/communications/v1/communicationsv1connect"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/journeysapi"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// fixture serves the journeys API on the real Temporal server, with the
// journeys' activities faked by name, the members and templates services
// faked, and the worker's definitions store and audit log on SQLite.
type fixture struct {
	url    string
	issuer *authtest.Issuer
	tc     client.Client
	store  *definitions.Store
	sent   *sentLog
}

// fixtureJourney waits for the profile and assigns a buddy; the
// programme's nominations are reviewed by org-member only.
const fixtureJourney = `{"steps": [
  {"id": "welcome", "kind": "send", "template": "onboarding-welcome"},
  {"id": "complete-profile", "kind": "wait-for", "signal": "profile-completed", "timeout": "1h"},
  {"id": "assign-buddy", "kind": "assign-buddy"},
  {"id": "onboarded", "kind": "end", "outcome": "onboarded"}]}`

// sentLog records the messages the journeys' SendTemplate sent.
type sentLog struct {
	mu   sync.Mutex
	msgs []onboarding.MessageInput
}

func (l *sentLog) add(m onboarding.MessageInput) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, m)
}

func (l *sentLog) all() []onboarding.MessageInput {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

// start serves the fixture; configure may change the handler's options.
func start(t *testing.T, configure ...func(*journeysapi.Options)) *fixture {
	t.Helper()
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))}))
	sent := &sentLog{}
	srv.NewWorker(onboarding.TaskQueue, func(r worker.Registry) {
		r.RegisterWorkflowWithOptions(onboarding.Workflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
		r.RegisterWorkflowWithOptions(onboarding.Workflow, workflow.RegisterOptions{Name: onboarding.WorkflowNameTest})
		for _, name := range []string{"SendWelcome", "SendJourneyMessage", "ReleaseBuddy", "RecordOnboarded", "RecordStepActivity"} {
			r.RegisterActivityWithOptions(func(context.Context, any) error { return nil }, activity.RegisterOptions{Name: name})
		}
		r.RegisterActivityWithOptions(func(_ context.Context, m onboarding.MessageInput) error {
			sent.add(m)
			return nil
		}, activity.RegisterOptions{Name: "SendTemplate"})
		r.RegisterActivityWithOptions(func(context.Context, onboarding.BuddyInput) (onboarding.BuddyResult, error) {
			return onboarding.BuddyResult{}, nil
		}, activity.RegisterOptions{Name: "AssignBuddy"})
		r.RegisterActivityWithOptions(func(context.Context, onboarding.SuggestInput) (onboarding.SuggestResult, error) {
			return onboarding.SuggestResult{}, nil
		}, activity.RegisterOptions{Name: "SuggestEvents"})
		// Every member here was added by an organiser: their address is confirmed.
		r.RegisterActivityWithOptions(func(context.Context, onboarding.MessageInput) (bool, error) { return true, nil },
			activity.RegisterOptions{Name: "AddressConfirmed"})
	})
	srv.NewWorker(ambassador.TaskQueue, func(r worker.Registry) {
		r.RegisterWorkflowWithOptions(ambassador.Workflow, workflow.RegisterOptions{Name: ambassador.WorkflowName})
		r.RegisterActivityWithOptions(func(context.Context, ambassador.EligibilityInput) (ambassador.Eligibility, error) {
			return ambassador.Eligibility{Eligible: true}, nil
		}, activity.RegisterOptions{Name: "CheckEligibility"})
		r.RegisterActivityWithOptions(func(context.Context, ambassador.Message) (ambassador.NotifyResult, error) {
			return ambassador.NotifyResult{}, nil
		}, activity.RegisterOptions{Name: "Notify"})
		for _, name := range []string{"AssignTier", "RevokeRole", "Announce", "RecordTaskCompleted"} {
			r.RegisterActivityWithOptions(func(context.Context, any) error { return nil }, activity.RegisterOptions{Name: name})
		}
		// Every ambassador meets their quotas; the programme a renewal
		// reads is the one it ran.
		r.RegisterActivityWithOptions(func(_ context.Context, in ambassador.QuotaInput) ([]ambassador.QuotaProgress, error) {
			var out []ambassador.QuotaProgress
			for _, q := range in.Quotas {
				out = append(out, ambassador.QuotaProgress{Activity: q.Activity, Target: q.Count, Count: q.Count})
			}
			return out, nil
		}, activity.RegisterOptions{Name: "MeasureQuotas"})
		r.RegisterActivityWithOptions(func(context.Context, string) (ambassador.CurrentProgramme, error) {
			return ambassador.CurrentProgramme{}, nil
		}, activity.RegisterOptions{Name: "ReadProgramme"})
	})
	tc := srv.GetDefaultClient()
	issuer := authtest.Start(t)
	tokens, err := auth.NewTokenVerifier(issuer.Config(), http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "worker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := db.Migrate(ctx, d, logger, audit.Migrations(), definitions.Migrations()); err != nil {
		t.Fatal(err)
	}
	log := audit.New(d)
	store := definitions.New(d, log)
	worker := auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindWorkload, Subject: "kinship-worker", Roles: []auth.Role{auth.Workload}}, auth.ScopeCommunity)
	if _, err := store.Seed(worker, "demo", definitions.KindOnboarding, fixtureJourney); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Seed(worker, "demo", definitions.KindAmbassador, `{"reviewers": ["org-member"]}`); err != nil {
		t.Fatal(err)
	}
	members := &fakeMembers{}
	opts := journeysapi.Options{
		Temporal: map[string]client.Client{"demo": tc}, Members: members, Segments: members, Engagement: members, Templates: fakeTemplates{},
		Store: store, StartConcurrency: 4, Logger: logger,
	}
	for _, c := range configure {
		c(&opts)
	}
	handler := journeysapi.New(opts)
	guard := auth.NewInterceptor(auth.Options{Tokens: tokens, Policy: journeysapi.Policy(), Logger: logger})
	mux := http.NewServeMux()
	handlerOpts := rpc.HandlerOptions(noop.NewTracerProvider(), logger, guard)
	mux.Handle(journeysv1connect.NewJourneysServiceHandler(handler, handlerOpts...))
	mux.Handle(auditv1connect.NewAuditServiceHandler(audit.NewHandler(log, "journeys", logger), handlerOpts...))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	return &fixture{url: api.URL, issuer: issuer, tc: tc, store: store, sent: sent}
}

// audit is the worker's audit log, read as role.
func (f *fixture) audit(t *testing.T) auditv1connect.AuditServiceClient {
	t.Helper()
	token := f.issuer.Token(t, localissuer.Claims{Subject: "u-auditor", Community: "demo", Roles: []string{string(auth.Organiser)}, MemberID: "org-member"})
	return auditv1connect.NewAuditServiceClient(http.DefaultClient, f.url, authtest.Bearer(token))
}

// fakeTemplates are the community's templates: welcome-de has a German
// variant, plain-letter only the fallback.
type fakeTemplates struct {
	communicationsv1connect.TemplatesServiceClient
}

func (fakeTemplates) ListTemplates(context.Context, *connect.Request[communicationsv1.ListTemplatesRequest]) (*connect.Response[communicationsv1.ListTemplatesResponse], error) {
	return connect.NewResponse(&communicationsv1.ListTemplatesResponse{Templates: []*communicationsv1.Template{
		{Name: "welcome-de", Variants: []*communicationsv1.TemplateVariant{{Locale: ""}, {Locale: "de"}}},
		{Name: "plain-letter", Variants: []*communicationsv1.TemplateVariant{{Locale: ""}}},
	}}), nil
}

// as is a client calling as role, with memberID as the caller's record.
func (f *fixture) as(t *testing.T, role auth.Role, memberID string) journeysv1connect.JourneysServiceClient {
	t.Helper()
	token := f.issuer.Token(t, localissuer.Claims{Subject: "u-" + string(role), Community: "demo", Roles: []string{string(role)}, MemberID: memberID})
	return journeysv1connect.NewJourneysServiceClient(http.DefaultClient, f.url, authtest.Bearer(token))
}

// fakeMembers: every id is an active, eligible member, except "ghost"
// (unknown), "gone" (left) and "low" (an Observer); segment "seg1" holds
// m1..m3.
type fakeMembers struct {
	membersv1connect.MembersServiceClient
	membersv1connect.SegmentsServiceClient
	membersv1connect.EngagementServiceClient
}

func (f *fakeMembers) GetMember(_ context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
	status := membersv1.MemberStatus_MEMBER_STATUS_ACTIVE
	switch req.Msg.GetId() {
	case "ghost":
		return nil, connect.NewError(connect.CodeNotFound, errors.New("member not found"))
	case "gone":
		status = membersv1.MemberStatus_MEMBER_STATUS_LEFT
	}
	return connect.NewResponse(&membersv1.GetMemberResponse{Member: &membersv1.Member{Id: req.Msg.GetId(), Community: "demo", Status: status}}), nil
}

func (f *fakeMembers) GetEngagement(_ context.Context, req *connect.Request[membersv1.GetEngagementRequest]) (*connect.Response[membersv1.GetEngagementResponse], error) {
	level := "Contributor"
	if req.Msg.GetMemberId() == "low" {
		level = "Observer"
	}
	return connect.NewResponse(&membersv1.GetEngagementResponse{Level: level, Recent: []*membersv1.Activity{
		{Type: "rsvp", OccurredAt: timestamppb.New(time.Now().Add(-time.Hour))}}}), nil
}

func (f *fakeMembers) GetCommunitySettings(context.Context, *connect.Request[membersv1.GetCommunitySettingsRequest]) (*connect.Response[membersv1.GetCommunitySettingsResponse], error) {
	return connect.NewResponse(&membersv1.GetCommunitySettingsResponse{Settings: &membersv1.CommunitySettings{Levels: []*membersv1.LevelThreshold{
		{Name: "Observer"}, {Name: "Participant", MinScore: 5}, {Name: "Contributor", MinScore: 20}}}}), nil
}

func (f *fakeMembers) ListSegments(context.Context, *connect.Request[membersv1.ListSegmentsRequest]) (*connect.Response[membersv1.ListSegmentsResponse], error) {
	return connect.NewResponse(&membersv1.ListSegmentsResponse{Segments: []*membersv1.Segment{{Id: "seg1", Name: "newcomers"}}}), nil
}

func (f *fakeMembers) ListSegmentMembers(_ context.Context, req *connect.Request[membersv1.ListSegmentMembersRequest]) (*connect.Response[membersv1.ListSegmentMembersResponse], error) {
	if req.Msg.GetSegmentId() != "seg1" {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("segment not found"))
	}
	res := &membersv1.ListSegmentMembersResponse{}
	if req.Msg.GetPageToken() == "" {
		res.Members = []*membersv1.SegmentMember{{Id: "s1"}, {Id: "s2"}}
		res.NextPageToken = "p2"
	} else {
		res.Members = []*membersv1.SegmentMember{{Id: "s3"}}
	}
	return connect.NewResponse(res), nil
}

// eventually polls check until it returns "" or 20 s pass.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		if last = check(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}
