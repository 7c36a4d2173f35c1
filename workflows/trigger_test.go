package workflows

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/kafka"
	eventevents "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/members/domain"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

func testTrigger(c client.Client, cfg Config) *trigger {
	t := &trigger{
		clients: map[string]client.Client{"demo": c},
		byTopic: map[string]string{memberevents.Topic("demo"): "demo", eventevents.Topic("demo"): "demo"},
		defs:    newCatalogue(cfg), cfg: cfg,
		logger: slog.New(slog.DiscardHandler),
	}
	t.table = t.routes()
	return t
}

func event(t *testing.T, typ, topic, key string, msg proto.Message) kafka.Event {
	t.Helper()
	data, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Event{ID: "ev-" + typ + key, Type: typ, ContentType: kafka.ContentTypeProtobuf, Data: data, Topic: topic, Key: key}
}

func TestTriggerDeadLettersEventsItCannotUse(t *testing.T) {
	joinedElsewhere, err := memberevents.Factory{}.MemberJoined(domain.Member{ID: "m1", Community: "other", JoinedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	joinedElsewhere.Topic = memberevents.Topic("demo") // a payload on the wrong community's topic
	tests := map[string]kafka.Event{
		"undecodable payload": {ID: "e0", Type: memberevents.TypeMemberJoined, ContentType: kafka.ContentTypeProtobuf, Data: []byte{0xff}, Topic: memberevents.Topic("demo")},
		"community mismatch":  joinedElsewhere,
		"no member":           event(t, eventevents.TypeCheckedIn, eventevents.Topic("demo"), "", &eventsv1.CheckedIn{Community: "demo"}),
		"json payload":        {ID: "e1", Type: memberevents.TypeMemberLeft, ContentType: "application/json", Data: []byte("{}"), Topic: memberevents.Topic("demo")},
		"unknown topic":       {ID: "e2", Type: memberevents.TypeMemberLeft, Topic: "elsewhere.members.v1"},
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			err := testTrigger(nil, Config{}).handle(context.Background(), e)
			var perm *kafka.PermanentError
			if !errors.As(err, &perm) {
				t.Errorf("handle = %v, want a permanent error", err)
			}
		})
	}
}

func TestTriggerSkipsEventsWithoutARoute(t *testing.T) {
	for _, typ := range []string{memberevents.TypeConsentChanged, eventevents.TypeRSVPReceived} {
		e := kafka.Event{ID: "e1", Type: typ, Topic: memberevents.Topic("demo"), Data: []byte{0xff}}
		if err := testTrigger(nil, Config{}).handle(context.Background(), e); err != nil {
			t.Errorf("%s: handle = %v, want nil", typ, err)
		}
	}
}

// eventsOf lists the history event types of a workflow.
func eventsOf(t *testing.T, c client.Client, id string) []enumspb.EventType {
	t.Helper()
	var out []enumspb.EventType
	iter := c.GetWorkflowHistory(context.Background(), id, "", false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.GetEventType())
	}
	return out
}

func count(events []enumspb.EventType, typ enumspb.EventType) int {
	n := 0
	for _, e := range events {
		if e == typ {
			n++
		}
	}
	return n
}

// TestTriggerRoutesOnARealServer drives each route against the real
// Temporal server (no worker: the histories show what the trigger did).
func TestTriggerRoutesOnARealServer(t *testing.T) {
	srv := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))}))
	c := srv.GetDefaultClient()
	trig := testTrigger(c, Config{})
	ctx := context.Background()
	members, events := memberevents.Topic("demo"), eventevents.Topic("demo")
	handle := func(e kafka.Event) {
		t.Helper()
		if err := trig.handle(ctx, e); err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
	}

	// A join starts the journey once, whatever the redeliveries.
	joined := event(t, memberevents.TypeMemberJoined, members, "m1", &membersv1.MemberJoined{MemberId: "m1", Community: "demo"})
	handle(joined)
	handle(joined)
	id := onboarding.WorkflowID("demo", "m1")
	if got := eventsOf(t, c, id); count(got, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) != 1 {
		t.Fatalf("history %v", got)
	}

	// A complete profile and a check-in become signals; an incomplete
	// profile does not.
	handle(event(t, memberevents.TypeProfileUpdated, members, "m1", &membersv1.ProfileUpdated{MemberId: "m1", Community: "demo",
		Profile: &membersv1.Profile{TimeZone: "Europe/Berlin"}}))
	handle(event(t, memberevents.TypeProfileUpdated, members, "m1", &membersv1.ProfileUpdated{MemberId: "m1", Community: "demo",
		Profile: &membersv1.Profile{TimeZone: "Europe/Berlin", Location: &membersv1.Location{CountryCode: "DE"}, Interests: []string{"solar"}}}))
	handle(event(t, eventevents.TypeCheckedIn, events, "m1", &eventsv1.CheckedIn{MemberId: "m1", Community: "demo", EventId: "e1"}))
	if got := eventsOf(t, c, id); count(got, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) != 2 {
		t.Errorf("signals in %v, want profile-completed and checked-in", got)
	}

	// Leaving asks the journey to cancel; the member had no ambassador
	// workflow, which is no error. Members without a journey are skipped.
	handle(event(t, memberevents.TypeMemberLeft, members, "m1", &membersv1.MemberLeft{MemberId: "m1", Community: "demo"}))
	if got := eventsOf(t, c, id); count(got, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED) != 1 {
		t.Errorf("history %v, want a cancellation", got)
	}
	handle(event(t, eventevents.TypeCheckedIn, events, "nobody", &eventsv1.CheckedIn{MemberId: "nobody", Community: "demo"}))
	handle(event(t, memberevents.TypeMemberErased, members, "nobody", &membersv1.MemberErased{MemberId: "nobody", Community: "demo"}))

	// Erasure cancels an ambassador's workflow too.
	if err := ambassador.Nominate(ctx, c, "demo", "amb", ambassador.Nomination{Kind: ambassador.NominatedByOrganiser}, ambassador.DefaultProgramme()); err != nil {
		t.Fatal(err)
	}
	handle(event(t, memberevents.TypeMemberErased, members, "amb", &membersv1.MemberErased{MemberId: "amb", Community: "demo"}))
	if got := eventsOf(t, c, ambassador.WorkflowID("demo", "amb")); count(got, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED) != 1 {
		t.Errorf("ambassador history %v, want a cancellation", got)
	}

	// Imported members wait for a cohort start, unless configured.
	imported := event(t, memberevents.TypeMemberJoined, members, "m2", &membersv1.MemberJoined{MemberId: "m2", Community: "demo",
		Source: &membersv1.Source{Kind: membersv1.SourceKind_SOURCE_KIND_IMPORT}})
	handle(imported)
	if _, err := c.DescribeWorkflowExecution(ctx, onboarding.WorkflowID("demo", "m2"), ""); !isGone(err) {
		t.Errorf("an imported member's journey started: %v", err)
	}
	if err := testTrigger(c, Config{OnboardImported: true}).handle(ctx, imported); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeWorkflowExecution(ctx, onboarding.WorkflowID("demo", "m2"), ""); err != nil {
		t.Errorf("with OnboardImported the journey did not start: %v", err)
	}

	// A member who joins with a complete profile has that step done.
	handle(event(t, memberevents.TypeMemberJoined, members, "m3", &membersv1.MemberJoined{MemberId: "m3", Community: "demo", Interests: []string{"solar"},
		Profile: &membersv1.Profile{TimeZone: "Europe/Paris", Location: &membersv1.Location{City: "Lyon"}}}))
	if got := eventsOf(t, c, onboarding.WorkflowID("demo", "m3")); count(got, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) != 1 {
		t.Errorf("history %v, want the profile signalled at once", got)
	}
}

func validConfig() Config {
	return Config{HTTPAddr: ":0", TemporalAddress: "127.0.0.1:7233", Communities: []string{"demo"}, KafkaBrokers: []string{"127.0.0.1:9092"},
		MembersURL: "http://members", CommunicationsURL: "http://communications", EventsURL: "http://events", PartnersURL: "http://partners",
		Auth: auth.TokenConfig{Issuer: "http://issuer", Audience: "kinship"}}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := onboarding.Definition{Steps: []onboarding.Step{{Type: "dance"}}}
	err := Config{Communities: []string{"Demo!"}, MembersURL: "ftp://x", OnboardingReminderAfter: -time.Second, StartConcurrency: -1,
		Journeys: map[string]Journeys{"elsewhere": {Onboarding: &bad}}}.Validate()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"http address", "temporal address", "community \"Demo!\"", "kafka brokers", "members url", "communications url",
		"events url", "partners url", "auth issuer", "negative", "start concurrency", `journeys for "elsewhere", which is not served`, "onboarding steps[0].type"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// Event lifecycles need the events API whatever the journeys are.
	noSuggest := validConfig()
	noSuggest.EventsURL = ""
	noSuggest.Journeys = map[string]Journeys{"*": {Onboarding: &onboarding.Definition{Steps: []onboarding.Step{{Type: onboarding.StepWelcome}}}}}
	if err := noSuggest.Validate(); err == nil || !strings.Contains(err.Error(), "events url") {
		t.Errorf("a worker without the events url: %v, want it refused", err)
	}
}

func TestJourneysFile(t *testing.T) {
	raw := `{
	  "demo": {"onboarding": {"steps": [{"type": "welcome"}, {"type": "complete-profile", "reminders": ["24h"], "wait": "72h"}]},
	           "ambassador": {"reviewers": ["org1"], "tiers": ["seed", "tree"], "capacity": [2, 4]}},
	  "*": {"ambassador": {"approvals": 1}}
	}`
	journeys, err := ParseJourneys(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	cfg.Communities = []string{"demo", "other"}
	cfg.Journeys = journeys
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := newCatalogue(cfg)
	if d := c.Onboarding("demo"); len(d.Steps) != 2 || d.Steps[1].Wait.Std() != 72*time.Hour {
		t.Errorf("demo onboarding %+v", d)
	}
	if p := c.Programme("demo"); p.Tiers[1] != "tree" || p.CheckIns != 12 || p.Reviewers[0] != "org1" {
		t.Errorf("demo programme %+v: named fields replaced, others default", p)
	}
	if d := c.Onboarding("other"); len(d.Steps) != 5 {
		t.Errorf("other falls back to the default journey: %+v", d)
	}
	if p := c.Programme("other"); p.Approvals != 1 || len(p.Tiers) != 3 {
		t.Errorf("other takes the * programme: %+v", p)
	}

	tuned := newCatalogue(Config{OnboardingReminderAfter: time.Minute, OnboardingGiveUpAfter: time.Hour}).Onboarding("any")
	if tuned.Steps[1].Reminders[0].Std() != time.Minute || tuned.Steps[1].Wait.Std() != time.Hour {
		t.Errorf("the reminder flags tune the default journey: %+v", tuned.Steps[1])
	}

	for _, bad := range []string{`{"demo": {"onboarding": {"steps": [{"type": "welcome", "colour": "red"}]}}}`, `{"demo": {"ambassador": {"tier": "x"}}}`, `[1]`} {
		if _, err := ParseJourneys(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	unknown, err := ParseJourneys(strings.NewReader(`{"demo": {"onboarding": {"steps": [{"type": "dance"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Journeys = unknown
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `journeys demo onboarding steps[0].type: "dance" is not a step type`) {
		t.Errorf("an unknown step type: %v", err)
	}
}
