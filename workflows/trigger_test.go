package workflows

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/audit"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/db"
	"github.com/kinshiphq/kinship/internal/kafka"
	eventevents "github.com/kinshiphq/kinship/services/events/events"
	"github.com/kinshiphq/kinship/services/members/domain"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows/ambassador"
	"github.com/kinshiphq/kinship/workflows/definitions"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// testStore is a worker's definitions store on SQLite, seeded from cfg
// for the communities it serves (demo when it names none).
func testStore(t *testing.T, cfg Config) *definitions.Store {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "worker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := db.Migrate(ctx, d, slog.New(slog.DiscardHandler), audit.Migrations(), definitions.Migrations()); err != nil {
		t.Fatal(err)
	}
	store := definitions.New(d, audit.New(d))
	if len(cfg.Communities) == 0 {
		cfg.Communities = []string{"demo"}
	}
	if err := seed(ctx, store, cfg); err != nil {
		t.Fatal(err)
	}
	return store
}

func testTrigger(t *testing.T, c client.Client, cfg Config) *trigger {
	store := testStore(t, cfg)
	tr := &trigger{
		clients: map[string]client.Client{"demo": c},
		byTopic: map[string]string{memberevents.Topic("demo"): "demo", eventevents.Topic("demo"): "demo"},
		defs:    store, quotas: newQuotaTypes(store, time.Minute), cfg: cfg,
		logger: slog.New(slog.DiscardHandler),
	}
	tr.table = tr.routes()
	return tr
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
		"confirmation elsewhere": event(t, memberevents.TypeEmailConfirmed, memberevents.Topic("demo"), "m1",
			&membersv1.EmailConfirmed{MemberId: "m1", Community: "other"}),
	}
	for name, e := range tests {
		t.Run(name, func(t *testing.T) {
			err := testTrigger(t, nil, Config{}).handle(context.Background(), e)
			var perm *kafka.PermanentError
			if !errors.As(err, &perm) {
				t.Errorf("handle = %v, want a permanent error", err)
			}
		})
	}
}

func TestTriggerSkipsEventsWithoutARoute(t *testing.T) {
	for _, typ := range []string{memberevents.TypeConsentChanged, eventevents.TypeWaitlisted} {
		e := kafka.Event{ID: "e1", Type: typ, Topic: memberevents.Topic("demo"), Data: []byte{0xff}}
		if err := testTrigger(t, nil, Config{}).handle(context.Background(), e); err != nil {
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
	trig := testTrigger(t, c, Config{})
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

	// A confirmed address lets the journey go on; a confirmation for a
	// member without a journey is no error.
	handle(event(t, memberevents.TypeEmailConfirmed, members, "m1", &membersv1.EmailConfirmed{MemberId: "m1", Community: "demo", Reason: "join"}))
	handle(event(t, memberevents.TypeEmailConfirmed, members, "nobody", &membersv1.EmailConfirmed{MemberId: "nobody", Community: "demo", Reason: "join"}))
	if got := eventsOf(t, c, id); count(got, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) != 3 {
		t.Errorf("signals in %v, want email-confirmed too", got)
	}

	// An answer to an invitation is the journey's first RSVP; a "not
	// going" is none.
	handle(event(t, eventevents.TypeRSVPReceived, events, "m1", &eventsv1.RSVPReceived{MemberId: "m1", Community: "demo", EventId: "e1",
		Status: eventsv1.RSVPStatus_RSVP_STATUS_NOT_GOING}))
	handle(event(t, eventevents.TypeRSVPReceived, events, "m1", &eventsv1.RSVPReceived{MemberId: "m1", Community: "demo", EventId: "e1",
		Status: eventsv1.RSVPStatus_RSVP_STATUS_GOING}))
	if got := eventsOf(t, c, id); count(got, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) != 4 {
		t.Errorf("signals in %v, want the going RSVP too", got)
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
	if err := ambassador.Nominate(ctx, c, "demo", "amb", ambassador.Nomination{Kind: ambassador.NominatedByOrganiser}, ambassador.DefaultProgramme(), 1); err != nil {
		t.Fatal(err)
	}
	// An ambassador's activities that quotas count are reported to their
	// programme (each only once it is one a quota counts); others are not.
	for _, typ := range []string{"hosted_event", "posted", "referred_member"} {
		handle(event(t, memberevents.TypeActivityRecorded, members, "amb", &membersv1.ActivityRecorded{MemberId: "amb", Community: "demo",
			ActivityId: "a-" + typ, Type: typ}))
	}
	handle(event(t, memberevents.TypeActivityRecorded, members, "m9", &membersv1.ActivityRecorded{MemberId: "m9", Community: "demo",
		ActivityId: "a-9", Type: "hosted_event"})) // no programme: nothing to tell
	if got := eventsOf(t, c, ambassador.WorkflowID("demo", "amb")); count(got, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) != 2 {
		t.Errorf("ambassador history %v, want the hosted event and the referral", got)
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
	if err := testTrigger(t, c, Config{OnboardImported: true}).handle(ctx, imported); err != nil {
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

	// A join whose address is confirmed tells the journey so; one whose
	// address is not leaves the journey to ask.
	handle(event(t, memberevents.TypeMemberJoined, members, "m4", &membersv1.MemberJoined{MemberId: "m4", Community: "demo", EmailVerified: true}))
	if in := startInput(t, c, onboarding.WorkflowID("demo", "m4")); !in.AddressConfirmed {
		t.Errorf("input %+v, want the address confirmed", in)
	}
	if in := startInput(t, c, id); in.AddressConfirmed {
		t.Errorf("input %+v of an unconfirmed join says the address is confirmed", in)
	}
}

// startInput is the input a journey was started with.
func startInput(t *testing.T, c client.Client, id string) onboarding.Input {
	t.Helper()
	iter := c.GetWorkflowHistory(context.Background(), id, "", false, 0)
	first, err := iter.Next()
	if err != nil {
		t.Fatal(err)
	}
	var in onboarding.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(first.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		t.Fatal(err)
	}
	return in
}

func validConfig() Config {
	return Config{HTTPAddr: ":0", TemporalAddress: "127.0.0.1:7233", DatabaseURL: "worker.db", Communities: []string{"demo"}, KafkaBrokers: []string{"127.0.0.1:9092"},
		MembersURL: "http://members", CommunicationsURL: "http://communications", EventsURL: "http://events", PartnersURL: "http://partners",
		Auth: auth.TokenConfig{Issuer: "http://issuer", Audience: "kinship"}}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := onboarding.Graph{Steps: []onboarding.Node{{ID: "a", Kind: "dance"}}}
	err := Config{Communities: []string{"Demo!"}, MembersURL: "ftp://x", OnboardingReminderAfter: -time.Second, StartConcurrency: -1,
		Journeys: map[string]Journeys{"elsewhere": {Onboarding: &bad}}, TemporalUI: "temporal-ui:8080"}.Validate()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"http address", "temporal address", "database url", "community \"Demo!\"", "kafka brokers", "members url",
		"communications url", "events url", "partners url", "auth issuer", "negative", "start concurrency",
		`journeys for "elsewhere", which is not served`, "onboarding steps[a].kind", `temporal ui url "temporal-ui:8080"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// Event lifecycles need the events API whatever the journeys are.
	noSuggest := validConfig()
	noSuggest.EventsURL = ""
	if err := noSuggest.Validate(); err == nil || !strings.Contains(err.Error(), "events url") {
		t.Errorf("a worker without the events url: %v, want it refused", err)
	}
}

// TestJourneysFileSeedsTheCommunities reads a journeys file of both
// onboarding formats and seeds a store with it: the communities named get
// their seeds, the others the "*" entry or the defaults.
func TestJourneysFileSeedsTheCommunities(t *testing.T) {
	raw := `{
	  "demo": {"onboarding": {"steps": [{"type": "welcome"}, {"type": "complete-profile", "reminders": ["24h"], "wait": "72h"}]},
	           "ambassador": {"reviewers": ["org1"], "tiers": ["seed", "tree"], "capacity": [2, 4]}},
	  "green": {"onboarding": {"steps": [{"id": "hi", "kind": "send", "template": "green-hello"}, {"id": "bye", "kind": "end"}]}},
	  "*": {"ambassador": {"approvals": 1}}
	}`
	journeys, err := ParseJourneys(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	cfg.Communities = []string{"demo", "green", "other"}
	cfg.Journeys = journeys
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	store := testStore(t, cfg)
	ctx := context.Background()
	onboardingOf := func(community string) onboarding.Graph {
		g, v, err := store.CurrentOnboarding(ctx, community)
		if err != nil || v != 1 {
			t.Fatalf("%s: version %d, %v", community, v, err)
		}
		return g
	}
	if ids := onboardingOf("demo").IDs(); !slices.Equal(ids, []string{"welcome", "complete-profile", "complete-profile-reminder-1", "complete-profile-2", "onboarded"}) {
		t.Errorf("demo onboarding %v", ids)
	}
	if ids := onboardingOf("green").IDs(); !slices.Equal(ids, []string{"hi", "bye"}) {
		t.Errorf("green onboarding %v", ids)
	}
	if g := onboardingOf("other"); g.Document() != onboarding.DefaultGraph().Document() {
		t.Errorf("other takes the default journey: %v", g.IDs())
	}
	if p, _, _ := store.CurrentProgramme(ctx, "demo"); p.Tiers[1] != "tree" || p.CheckIns != 12 || p.Reviewers[0] != "org1" {
		t.Errorf("demo programme %+v: named fields replaced, others default", p)
	}
	if p, _, _ := store.CurrentProgramme(ctx, "other"); p.Approvals != 1 || len(p.Tiers) != 3 {
		t.Errorf("other takes the * programme: %+v", p)
	}

	tuned := testStore(t, Config{OnboardingReminderAfter: time.Minute, OnboardingGiveUpAfter: time.Hour})
	g, _, _ := tuned.CurrentOnboarding(ctx, "demo")
	if first := g.Steps[g.Index()["complete-profile"]]; first.Timeout.Std() != time.Minute {
		t.Errorf("the reminder flags seed the default journey: first wait %v", first.Timeout.Std())
	}

	for _, bad := range []string{`{"demo": {"onboarding": {"steps": [{"type": "welcome", "colour": "red"}]}}}`, `{"demo": {"ambassador": {"tier": "x"}}}`,
		`[1]`, `{"demo": {"onboarding": {"steps": [{"type": "dance"}]}}}`} {
		if _, err := ParseJourneys(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	unknown, err := ParseJourneys(strings.NewReader(`{"demo": {"onboarding": {"steps": [{"id": "a", "kind": "dance"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Journeys = unknown
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `journeys demo onboarding steps[a].kind: "dance" is not a step kind`) {
		t.Errorf("an unknown step kind: %v", err)
	}
}
