package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
	"github.com/kinshiphq/kinship/gen/kinship/journeys/v1/journeysv1connect"
	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
)

const journeysUsage = `Usage:
  kinship journeys start -segment NAME | -members ID,ID,...   start onboarding journeys, with progress
  kinship journeys list [-status running,completed] [-kind ambassador]
  kinship journeys get MEMBER_ID [-kind ambassador]
  kinship journeys nominate MEMBER_ID                          put a member forward as ambassador
  kinship journeys review MEMBER_ID approve|reject             review an ambassador nomination
  kinship journeys roster                                      the ambassador programme's roster
  kinship journeys definition get|put|publish|history|diff|test  the journey definition and programme, versioned
  kinship journeys steer pause|resume|skip|restart|cancel      steer the journeys of members or a segment
  kinship journeys migrate -to VERSION [-dry-run]              move running journeys to another version
`

// journeysFlags are what the journeys commands need to reach the APIs.
type journeysFlags struct {
	organiserFlags
	journeysURL string
}

func (j *journeysFlags) define(f *flags) {
	j.organiserFlags.define(f)
	f.string(&j.journeysURL, "journeys-url", "KINSHIP_JOURNEYS_URL", "http://127.0.0.1:8083", "journeys API base URL (the worker)")
}

func (j *journeysFlags) clients() (journeysv1connect.JourneysServiceClient, membersv1connect.SegmentsServiceClient, error) {
	if j.token == "" {
		return nil, nil, errors.New("no credentials: set -token or KINSHIP_TOKEN (an organiser's token or API key)")
	}
	bearer := connect.WithInterceptors(auth.NewClientInterceptor(auth.StaticToken(j.token)))
	httpClient := rpc.HTTPClient(0)
	return journeysv1connect.NewJourneysServiceClient(httpClient, j.journeysURL, bearer),
		membersv1connect.NewSegmentsServiceClient(httpClient, j.url, bearer), nil
}

// runJourneys dispatches the journeys commands.
func runJourneys(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, journeysUsage)
		return errors.New("journeys: name a command")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		_, err := fmt.Fprint(stdout, journeysUsage)
		return err
	}
	switch args[0] {
	case "definition":
		return runDefinition(ctx, args[1:], env, stdout, stderr)
	case "steer":
		return runSteer(ctx, args[1:], env, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], env, stdout)
	}
	var j journeysFlags
	f := newFlags("journeys "+args[0], env)
	j.define(f)
	kind := f.fs.String("kind", "onboarding", "onboarding or ambassador")
	switch args[0] {
	case "start":
		segment := f.fs.String("segment", "", "name (or id) of a saved segment whose members to start")
		members := f.fs.String("members", "", "member ids to start, comma-separated, such as an import batch")
		if err := f.parse(args[1:]); err != nil {
			return err
		}
		return journeysStart(ctx, &j, *segment, splitList(*members), stdout, stderr)
	case "list":
		status := f.fs.String("status", "", "statuses to list: running, completed, cancelled, failed, terminated, timed-out")
		if err := f.parse(args[1:]); err != nil {
			return err
		}
		return journeysList(ctx, &j, *kind, splitList(*status), stdout)
	case "get", "nominate", "review":
		positional, err := parseInterleaved(f, args[1:])
		if err != nil {
			return err
		}
		return journeysOne(ctx, &j, args[0], *kind, positional, stdout)
	case "roster":
		if err := f.parse(args[1:]); err != nil {
			return err
		}
		return journeysRoster(ctx, &j, stdout)
	}
	fmt.Fprint(stderr, journeysUsage)
	return fmt.Errorf("journeys: unknown command %q", args[0])
}

// parseInterleaved parses flags given before, between or after the
// positional arguments, which it returns.
func parseInterleaved(f *flags, args []string) ([]string, error) {
	var positional []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, err
		}
		if f.fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, f.fs.Arg(0))
		args = f.fs.Args()[1:]
	}
}

// journeysStart starts a segment's or a list's journeys, drawing progress
// on stderr, and fails when any member could not be started.
func journeysStart(ctx context.Context, j *journeysFlags, segment string, members []string, stdout, stderr io.Writer) error {
	if (segment == "") == (len(members) == 0) {
		return errors.New("journeys start: give -segment or -members")
	}
	api, segments, err := j.clients()
	if err != nil {
		return err
	}
	req := &journeysv1.StartOnboardingRequest{Community: j.community, MemberIds: members}
	if segment != "" {
		if req.SegmentId, err = segmentID(ctx, segments, j.community, segment); err != nil {
			return err
		}
	}
	stream, err := api.StartOnboarding(ctx, connect.NewRequest(req))
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	bar := &startProgress{w: stderr}
	var last *journeysv1.StartOnboardingResponse
	var failures []*journeysv1.StartFailure
	for stream.Receive() {
		last = stream.Msg()
		failures = append(failures, last.GetFailures()...)
		bar.draw(last)
	}
	bar.done()
	if err := stream.Err(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if last == nil {
		return errors.New("start: the server sent no progress")
	}
	fmt.Fprintf(stdout, "members %d: %d journeys started, %d had one already, %d failed\n",
		last.GetTotal(), last.GetStarted(), last.GetAlreadyStarted(), last.GetFailed())
	for _, f := range failures {
		fmt.Fprintf(stdout, "  %s: %s\n", f.GetMemberId(), f.GetReason())
	}
	if n := last.GetFailed() - int64(len(failures)); n > 0 {
		fmt.Fprintf(stdout, "  ... and %d more\n", n)
	}
	if last.GetFailed() > 0 {
		return fmt.Errorf("%d journeys were not started; the others were (run it again to retry them)", last.GetFailed())
	}
	return nil
}

// segmentID resolves a saved segment by name; an id is taken as it is.
func segmentID(ctx context.Context, segments membersv1connect.SegmentsServiceClient, community, nameOrID string) (string, error) {
	res, err := segments.ListSegments(ctx, connect.NewRequest(&membersv1.ListSegmentsRequest{Community: community}))
	if err != nil {
		return "", fmt.Errorf("list segments: %w", err)
	}
	var names []string
	for _, s := range res.Msg.GetSegments() {
		if strings.EqualFold(s.GetName(), nameOrID) || s.GetId() == nameOrID {
			return s.GetId(), nil
		}
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	return "", fmt.Errorf("no saved segment %q; the community has: %s", nameOrID, strings.Join(names, ", "))
}

// startProgress draws the cohort start on a terminal line.
type startProgress struct {
	w    io.Writer
	last time.Time
}

func (p *startProgress) draw(r *journeysv1.StartOnboardingResponse) {
	if time.Since(p.last) < 100*time.Millisecond && !r.GetDone() {
		return
	}
	p.last = time.Now()
	handled := r.GetStarted() + r.GetAlreadyStarted() + r.GetFailed()
	pct := 100.0
	if r.GetTotal() > 0 {
		pct = float64(handled) * 100 / float64(r.GetTotal())
	}
	bar := []byte(strings.Repeat(".", 20))
	for i := range int(pct / 5) {
		bar[i] = '#'
	}
	fmt.Fprintf(p.w, "\rstarting [%s] %3.0f%%  %d / %d journeys", bar, pct, handled, r.GetTotal())
}

func (p *startProgress) done() { fmt.Fprintln(p.w) }

func kindFlag(kind string) (journeysv1.JourneyKind, error) {
	switch kind {
	case "", "onboarding":
		return journeysv1.JourneyKind_JOURNEY_KIND_ONBOARDING, nil
	case "ambassador":
		return journeysv1.JourneyKind_JOURNEY_KIND_AMBASSADOR, nil
	}
	return 0, fmt.Errorf("-kind %q: use onboarding or ambassador", kind)
}

func statusFlag(names []string) ([]journeysv1.JourneyStatus, error) {
	var out []journeysv1.JourneyStatus
	for _, n := range names {
		v, ok := journeysv1.JourneyStatus_value["JOURNEY_STATUS_"+strings.ToUpper(strings.ReplaceAll(n, "-", "_"))]
		if !ok || v == 0 {
			return nil, fmt.Errorf("-status %q: use running, completed, cancelled, failed, terminated or timed-out", n)
		}
		out = append(out, journeysv1.JourneyStatus(v))
	}
	return out, nil
}

func statusName(s journeysv1.JourneyStatus) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(s.String(), "JOURNEY_STATUS_"), "_", "-"))
}

func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().Local().Format("2006-01-02 15:04")
}

// journeysList prints every page of a community's journeys.
func journeysList(ctx context.Context, j *journeysFlags, kindName string, statusNames []string, stdout io.Writer) error {
	kind, err := kindFlag(kindName)
	if err != nil {
		return err
	}
	statuses, err := statusFlag(statusNames)
	if err != nil {
		return err
	}
	api, _, err := j.clients()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEMBER\tSTATUS\tSTEP\tOUTCOME\tSTARTED")
	token := ""
	for {
		res, err := api.ListJourneys(ctx, connect.NewRequest(&journeysv1.ListJourneysRequest{Community: j.community, Kind: kind, Statuses: statuses, PageSize: 500, PageToken: token}))
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		for _, s := range res.Msg.GetJourneys() {
			step := s.GetCurrentStep()
			if s.GetPaused() {
				step += " (paused)"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.GetMemberId(), statusName(s.GetStatus()), orDash(step), orDash(s.GetOutcome()), when(s.GetStartedAt()))
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return w.Flush()
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// journeysOne runs the commands about one member.
func journeysOne(ctx context.Context, j *journeysFlags, command, kindName string, args []string, stdout io.Writer) error {
	want := map[string]string{"get": "MEMBER_ID", "nominate": "MEMBER_ID", "review": "MEMBER_ID approve|reject"}[command]
	if len(args) != len(strings.Fields(want)) {
		return fmt.Errorf("usage: kinship journeys %s %s", command, want)
	}
	api, _, err := j.clients()
	if err != nil {
		return err
	}
	member := args[0]
	switch command {
	case "nominate":
		res, err := api.NominateAmbassador(ctx, connect.NewRequest(&journeysv1.NominateAmbassadorRequest{Community: j.community, MemberId: member}))
		if err != nil {
			return fmt.Errorf("nominate: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "nominated: %s\n", res.Msg.GetJourney().GetId())
		return err
	case "review":
		decision := map[string]journeysv1.ReviewDecision{"approve": journeysv1.ReviewDecision_REVIEW_DECISION_APPROVE, "reject": journeysv1.ReviewDecision_REVIEW_DECISION_REJECT}[args[1]]
		if decision == 0 {
			return fmt.Errorf("journeys review: the decision is approve or reject, not %q", args[1])
		}
		if _, err := api.ReviewNomination(ctx, connect.NewRequest(&journeysv1.ReviewNominationRequest{Community: j.community, MemberId: member, Decision: decision})); err != nil {
			return fmt.Errorf("review: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "review recorded: %s\n", args[1])
		return err
	}
	kind, err := kindFlag(kindName)
	if err != nil {
		return err
	}
	res, err := api.GetJourney(ctx, connect.NewRequest(&journeysv1.GetJourneyRequest{Community: j.community, MemberId: member, Kind: kind}))
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	jr := res.Msg.GetJourney()
	fmt.Fprintf(stdout, "%s  %s  step %s", jr.GetId(), statusName(jr.GetStatus()), orDash(jr.GetCurrentStep()))
	if jr.GetPaused() {
		fmt.Fprint(stdout, " (paused)")
	}
	if jr.GetOutcome() != "" {
		fmt.Fprintf(stdout, "  outcome %s", jr.GetOutcome())
	}
	if jr.GetNextDeadline() != nil {
		fmt.Fprintf(stdout, "  next %s", when(jr.GetNextDeadline()))
	}
	fmt.Fprintln(stdout)
	for _, e := range jr.GetHistory() {
		fmt.Fprintf(stdout, "  %s  %-18s %-16s %s\n", when(e.GetAt()), e.GetStep(), e.GetEvent(), e.GetDetail())
	}
	return nil
}

// journeysRoster prints the ambassador programme's roster.
func journeysRoster(ctx context.Context, j *journeysFlags, stdout io.Writer) error {
	api, _, err := j.clients()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEMBER\tSTAGE\tTIER\tBUDDIES\tYEAR")
	token := ""
	for {
		res, err := api.ListProgramme(ctx, connect.NewRequest(&journeysv1.ListProgrammeRequest{Community: j.community, PageSize: 500, PageToken: token}))
		if err != nil {
			return fmt.Errorf("roster: %w", err)
		}
		for _, e := range res.Msg.GetEntries() {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\n", e.GetMemberId(), orDash(e.GetStage()), orDash(e.GetTier()), e.GetBuddies(), e.GetCycle()+1)
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return w.Flush()
		}
	}
}
