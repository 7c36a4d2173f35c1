//go:build !nodev

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/kafka"
	commevents "github.com/kinshiphq/kinship/services/communications/events"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// benchStartConcurrency is how many starts are in flight at once, both
// through the journeys API (its default) and for the ceiling.
const benchStartConcurrency = 16

// benchJourneys starts a cohort of n onboarding journeys through the
// journeys API on the embedded stack (`kinship dev` in a temporary folder:
// Temporal on SQLite, the in-process broker, the services on SQLite), and
// beside it, on the same Temporal server in the same run, n trivial
// one-activity workflows started as fast through a Temporal client: the
// embedded Temporal's ceiling.
func benchJourneys(ctx context.Context, n int, logger *slog.Logger) (string, error) {
	stack, err := startEmbeddedStack(ctx, "journeys", logger)
	if err != nil {
		return "", err
	}
	defer stack.close()
	ep, tc := stack.ep, stack.tc

	logger.Info("importing the cohort", "members", n)
	segment, err := benchCohort(ctx, ep, n)
	if err != nil {
		return "", err
	}
	// The import's events reach the trigger and the communications
	// projection; let them settle before anything is timed.
	if err := benchSettle(ctx, ep.Kafka); err != nil {
		return "", err
	}

	logger.Info("starting the ceiling: trivial one-activity workflows", "workflows", n)
	ceiling, err := benchCeiling(ctx, tc, n)
	if err != nil {
		return "", err
	}
	defs := newBenchDefinitions(ep)
	logger.Info("saving and publishing the cohort's journey definition", "steps", benchSteps)
	version, _, err := defs.save(ctx, benchGraph("bench-cohort"), 0)
	if err != nil {
		return "", err
	}
	cohortIDs, err := benchCohortIDs(ctx, ep, segment)
	if err != nil {
		return "", err
	}
	if len(cohortIDs) != n {
		return "", fmt.Errorf("bench: the cohort's segment holds %d members, want the %d imported", len(cohortIDs), n)
	}
	logger.Info("starting the cohort through the journeys API", "journeys", n, "definition", version)
	cohort, err := benchCohortStart(ctx, ep, segment, n)
	if err != nil {
		return "", err
	}
	if err := benchStartedOnce(ctx, ep, cohortIDs, version); err != nil {
		return "", err
	}
	// Journeys spend their days waiting; time the saves once the cohort's
	// journeys wait: for the address confirmation (imported members have
	// not confirmed theirs) or, past the welcome, for the profile.
	logger.Info("waiting for the cohort's journeys to come to rest")
	resting, err := benchAtRest(ctx, ep, cohortIDs, 5*time.Minute, onboarding.StepConfirmEmail, "profile")
	if err != nil {
		return "", err
	}
	logger.Info("saving the definition over the running cohort", "saves", benchSaveCount, "resting", resting)
	saves, err := benchSaves(ctx, tc, ep, benchSaveCount, version)
	if err != nil {
		return "", err
	}
	saves.resting = resting
	// The saves published new versions: the running journeys keep theirs.
	if err := benchStartedOnce(ctx, ep, cohortIDs, version); err != nil {
		return "", err
	}

	var b strings.Builder
	benchHeader(&b, "Cohort start of onboarding journeys on the embedded stack", fmt.Sprintf("kinship bench journeys -journeys %d", n), cohort.start)
	fmt.Fprintf(&b, "Target: a cohort start of journeys on a %d-step definition reaches ≥ 0.8 × the ceiling — trivial one-activity workflows "+
		"started as fast on the same embedded Temporal (SQLite, WAL) in the same run. The definition (welcome, wait for the profile, tag, "+
		"event suggestions, wait for the first attendance, end) is saved and published through the journeys API (`SaveDefinition`) first. "+
		"Both start %d workflows at once; the worker runs them meanwhile. \"All started\" is when the last start was accepted. Checked "+
		"afterwards: the start reported %d started, none already started or failed; the journeys API lists (from Temporal) exactly one "+
		"journey for each of the %d members of the cohort's segment, each on the saved version.\n\n",
		benchSteps, benchStartConcurrency, n, n)
	fmt.Fprintf(&b, "| workflows | started through | starts/s | all started after | × ceiling |\n| ---: | --- | ---: | ---: | ---: |\n")
	fmt.Fprintf(&b, "| %d | Temporal client: trivial one-activity workflow (ceiling) | %.0f | %.1f s | 1.00 |\n", n, ceiling.rate(n), ceiling.took.Seconds())
	fmt.Fprintf(&b, "| %d | journeys API: StartOnboarding of a segment, %d-step definition (version %d) | %.0f | %.1f s | %.2f |\n\n", n, benchSteps,
		version, cohort.rate(n), cohort.took.Seconds(), cohort.rate(n)/ceiling.rate(n))

	fmt.Fprintf(&b, "### Definition saves over running journeys\n\n")
	fmt.Fprintf(&b, "Target: saving the onboarding definition with 1,000 running journeys takes < 200 ms (median and p95). %d saves through "+
		"the journeys API (`SaveDefinition`, published, each on top of the one before with `base_version`), one every 100 ms or so, while the "+
		"cohort's journeys run (timed once they wait — for the address confirmation, which imported members have not given, or for the "+
		"profile — where journeys spend their days, or after 5 minutes); each save checked its templates with the communications service, and each was read back (`GetDefinition`: "+
		"the new version, current, with the saved steps). Afterwards every running journey still ran the version it started with.\n\n", saves.saves)
	fmt.Fprintf(&b, "| running journeys | of the cohort's, waiting (confirmation or profile) | saves | versions | median | p95 | max |\n"+
		"| ---: | ---: | ---: | --- | ---: | ---: | ---: |\n")
	fmt.Fprintf(&b, "| %d | %d of %d | %d | %d–%d | %s | %s | %s |\n\n", saves.running, saves.resting, n, saves.saves, saves.first, saves.last,
		ms(saves.median), ms(saves.p95), ms(saves.max))
	return b.String(), nil
}

type startRun struct {
	start time.Time
	took  time.Duration
	// carried is from the first start to the last workflow's activity
	// run (the ceiling only).
	carried time.Duration
}

func (r startRun) rate(n int) float64 { return float64(n) / r.took.Seconds() }

// benchCohort imports n members and saves a segment of exactly them.
func benchCohort(ctx context.Context, ep devstack.Endpoints, n int) (string, error) {
	bearer := organiserBearer(ep)
	members := membersv1connect.NewMembersServiceClient(http.DefaultClient, ep.Members, bearer)
	// The stack's seeded members joined as it started: the cohort's
	// segment starts a full second after them, and holds the import only.
	time.Sleep(1100 * time.Millisecond)
	since := time.Now().Truncate(time.Second)
	stream := members.ImportMembers(ctx)
	data := benchCSV(n)
	first := true
	for len(data) > 0 || first {
		size := min(len(data), 256<<10)
		req := &membersv1.ImportMembersRequest{Chunk: data[:size]}
		if first {
			req.Community, first = "demo", false
		}
		if err := stream.Send(req); err != nil {
			break
		}
		data = data[size:]
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		return "", fmt.Errorf("bench: import: %w", err)
	}
	if res.Msg.GetCreated() != int64(n) {
		return "", fmt.Errorf("bench: the import created %d of %d members", res.Msg.GetCreated(), n)
	}
	segments := membersv1connect.NewSegmentsServiceClient(http.DefaultClient, ep.Members, bearer)
	seg, err := segments.CreateSegment(ctx, connect.NewRequest(&membersv1.CreateSegmentRequest{Community: "demo", Name: "bench cohort",
		Filter: &membersv1.SegmentFilter{JoinedAfter: timestamppb.New(since)}}))
	if err != nil {
		return "", fmt.Errorf("bench: segment: %w", err)
	}
	return seg.Msg.GetSegment().GetId(), nil
}

// benchSettle waits until the trigger and the recipients projection have
// read everything on members.v1.
func benchSettle(ctx context.Context, brokers []string) error {
	kc := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 10 * time.Second}
	topic := memberevents.Topic("demo")
	deadline := time.Now().Add(5 * time.Minute)
	for {
		lag, err := benchLag(ctx, kc, topic, kafka.Group(workflows.TriggerGroup, []string{"demo"}), kafka.Group(commevents.ProjectionGroup, []string{"demo"}))
		if err == nil && lag == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: consumers still %d records behind after 5 minutes (%v)", lag, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// benchLag sums how far the groups are behind the end of topic.
func benchLag(ctx context.Context, kc *kafkago.Client, topic string, groups ...string) (int64, error) {
	meta, err := kc.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	var offsets []kafkago.OffsetRequest
	var partitions []int
	for _, p := range meta.Topics[0].Partitions {
		offsets = append(offsets, kafkago.LastOffsetOf(p.ID))
		partitions = append(partitions, p.ID)
	}
	ends, err := kc.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: offsets}})
	if err != nil {
		return 0, err
	}
	var lag int64
	for _, group := range groups {
		committed, err := kc.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: partitions}})
		if err != nil {
			return 0, err
		}
		done := map[int]int64{}
		for _, p := range committed.Topics[topic] {
			done[p.Partition] = p.CommittedOffset
		}
		for _, p := range ends.Topics[topic] {
			if behind := p.LastOffset - max(done[p.Partition], 0); behind > 0 {
				lag += behind
			}
		}
	}
	return lag, nil
}

// benchCeilingQueue is where the ceiling's trivial workflows run.
const benchCeilingQueue = "bench-ceiling"

func benchCeilingWorkflow(ctx workflow.Context, i int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	return workflow.ExecuteActivity(ctx, "BenchCeilingActivity", i).Get(ctx, nil)
}

// ceilingActivities is the ceiling's one activity: it notes when each
// workflow's activity first ran, the analogue of a welcome e-mail
// arriving at the sink.
type ceilingActivities struct {
	mu  sync.Mutex
	ran map[int]time.Time
}

func (a *ceilingActivities) BenchCeilingActivity(_ context.Context, i int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.ran[i]; !ok {
		a.ran[i] = time.Now()
	}
	return nil
}

// lastRan is when the last of n workflows' activities first ran.
func (a *ceilingActivities) lastRan(n int) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var last time.Time
	for i := 1; i <= n; i++ {
		at, ok := a.ran[i]
		if !ok {
			return time.Time{}, false
		}
		if at.After(last) {
			last = at
		}
	}
	return last, true
}

// benchCeiling starts n trivial workflows as the journeys API starts
// journeys — benchStartConcurrency at once, one id each, failing on a
// duplicate — with a worker running them, and waits until they are done
// so they do not weigh on the cohort that follows.
func benchCeiling(ctx context.Context, tc client.Client, n int) (startRun, error) {
	w := worker.New(tc, benchCeilingQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(benchCeilingWorkflow, workflow.RegisterOptions{Name: "BenchCeiling"})
	acts := &ceilingActivities{ran: map[int]time.Time{}}
	w.RegisterActivity(acts)
	if err := w.Start(); err != nil {
		return startRun{}, err
	}
	defer w.Stop()
	run := startRun{start: time.Now()}
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range benchStartConcurrency {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= n && ctx.Err() == nil; i = int(next.Add(1)) {
				_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
					ID: fmt.Sprintf("bench-ceiling/%d", i), TaskQueue: benchCeilingQueue,
					WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
					WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
					WorkflowExecutionErrorWhenAlreadyStarted: true,
				}, "BenchCeiling", i)
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	run.took = time.Since(run.start)
	if firstErr != nil {
		return startRun{}, fmt.Errorf("bench: ceiling start: %w", firstErr)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		res, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "WorkflowType = 'BenchCeiling' AND ExecutionStatus = 'Running'"})
		if err == nil && res.GetCount() == 0 {
			last, ok := acts.lastRan(n)
			if !ok {
				return startRun{}, errors.New("bench: a ceiling workflow finished without running its activity")
			}
			run.carried = last.Sub(run.start)
			return run, nil
		}
		time.Sleep(time.Second)
	}
	if err := ctx.Err(); err != nil {
		return startRun{}, err
	}
	return startRun{}, errors.New("bench: the ceiling's workflows still run after 15 minutes")
}

// organiserBearer calls as the stack's seeded organiser.
func organiserBearer(ep devstack.Endpoints) connect.ClientOption {
	return connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(ep.Tokens[auth.Organiser])))
}

// benchCohortStart starts the segment's journeys through the journeys API
// and times it until the last start is accepted.
func benchCohortStart(ctx context.Context, ep devstack.Endpoints, segment string, n int) (startRun, error) {
	api := journeysv1connect.NewJourneysServiceClient(http.DefaultClient, ep.Worker, organiserBearer(ep))
	run := startRun{start: time.Now()}
	stream, err := api.StartOnboarding(ctx, connect.NewRequest(&journeysv1.StartOnboardingRequest{Community: "demo", SegmentId: segment}))
	if err != nil {
		return startRun{}, fmt.Errorf("bench: cohort start: %w", err)
	}
	var last *journeysv1.StartOnboardingResponse
	for stream.Receive() {
		last = stream.Msg()
	}
	run.took = time.Since(run.start)
	if err := stream.Err(); err != nil {
		return startRun{}, fmt.Errorf("bench: cohort start: %w", err)
	}
	if last == nil || !last.GetDone() || last.GetStarted() != int64(n) || last.GetAlreadyStarted() != 0 || last.GetFailed() != 0 {
		return startRun{}, fmt.Errorf("bench: the cohort start ended with %v, want %d started", last, n)
	}
	return run, nil
}
