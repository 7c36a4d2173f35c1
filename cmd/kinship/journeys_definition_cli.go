package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	journeysv1 "github.com/kinshiphq/kinship/gen/kinship/journeys/v1"
)

const definitionUsage = `Usage:
  kinship journeys definition get [-version N] [-kind ambassador]       print a version (the current one) as JSON
  kinship journeys definition put FILE [-draft] [-base N] [-kind ...]   save FILE as the next version, published unless -draft
  kinship journeys definition publish VERSION [-kind ambassador]        make a saved version the current one
  kinship journeys definition history [-kind ambassador]                every saved version, newest first
  kinship journeys definition diff FROM [TO] [-kind ambassador]         what changed between two versions (TO: the current one)
  kinship journeys definition test MEMBER_ID [-version N]               test-run a version for a member; every message comes to you
`

// runDefinition dispatches the definition commands.
func runDefinition(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stderr, definitionUsage)
		if len(args) == 0 {
			return errors.New("journeys definition: name a command")
		}
		return nil
	}
	var j journeysFlags
	f := newFlags("journeys definition "+args[0], env)
	j.define(f)
	kindName := f.fs.String("kind", "onboarding", "onboarding or ambassador")
	version := f.fs.Int("version", 0, "a saved version; 0 means the current one")
	draft := f.fs.Bool("draft", false, "save as a draft: new journeys keep the current version")
	base := f.fs.Int("base", 0, "the version the file was edited from; the save fails if another was saved since")
	command := args[0]
	positional, err := parseInterleaved(f, args[1:])
	if err != nil {
		return err
	}
	want := map[string]int{"get": 0, "put": 1, "publish": 1, "history": 0, "diff": -1, "test": 1}
	n, ok := want[command]
	switch {
	case !ok:
		fmt.Fprint(stderr, definitionUsage)
		return fmt.Errorf("journeys definition: unknown command %q", command)
	case n >= 0 && len(positional) != n, n < 0 && (len(positional) < 1 || len(positional) > 2):
		fmt.Fprint(stderr, definitionUsage)
		return fmt.Errorf("journeys definition %s: wrong arguments %v", command, positional)
	}
	kind, err := kindFlag(*kindName)
	if err != nil {
		return err
	}
	api, _, err := j.clients()
	if err != nil {
		return err
	}
	switch command {
	case "get":
		res, err := api.GetDefinition(ctx, connect.NewRequest(&journeysv1.GetDefinitionRequest{Community: j.community, Kind: kind, Version: int32(*version)}))
		if err != nil {
			return fmt.Errorf("definition get: %w", err)
		}
		_, err = io.WriteString(stdout, res.Msg.GetDefinition().GetDocument())
		return err
	case "put":
		doc, err := os.ReadFile(positional[0])
		if err != nil {
			return fmt.Errorf("definition put: %w", err)
		}
		res, err := api.SaveDefinition(ctx, connect.NewRequest(&journeysv1.SaveDefinitionRequest{Community: j.community, Kind: kind,
			Document: string(doc), Publish: !*draft, BaseVersion: int32(*base)}))
		if err != nil {
			return fmt.Errorf("definition put: %w", refusal(err))
		}
		v := res.Msg.GetDefinition()
		state := "published: new journeys take it; running journeys keep theirs until migrated"
		if !v.GetPublished() {
			state = "a draft: try it with `kinship journeys definition test`, publish it with `kinship journeys definition publish`"
		}
		_, err = fmt.Fprintf(stdout, "saved version %d, %s\n", v.GetVersion(), state)
		return err
	case "publish":
		number, err := strconv.Atoi(positional[0])
		if err != nil {
			return fmt.Errorf("definition publish: %q is not a version number", positional[0])
		}
		res, err := api.PublishDefinition(ctx, connect.NewRequest(&journeysv1.PublishDefinitionRequest{Community: j.community, Kind: kind, Version: int32(number)}))
		if err != nil {
			return fmt.Errorf("definition publish: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "version %d is current\n", res.Msg.GetDefinition().GetVersion())
		return err
	case "history":
		return definitionHistory(ctx, &j, kind, stdout)
	case "diff":
		return definitionDiff(ctx, &j, kind, positional, stdout)
	}
	res, err := api.TestRunDefinition(ctx, connect.NewRequest(&journeysv1.TestRunDefinitionRequest{Community: j.community, Version: int32(*version), MemberId: positional[0]}))
	if err != nil {
		return fmt.Errorf("definition test: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "test run of version %d started for %s: %s (its messages come to you; each wait lasts a minute at most)\n",
		res.Msg.GetVersion(), positional[0], res.Msg.GetJourneyId())
	return err
}

func definitionHistory(ctx context.Context, j *journeysFlags, kind journeysv1.JourneyKind, stdout io.Writer) error {
	api, _, err := j.clients()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tSTATE\tSOURCE\tSAVED\tSAVED BY")
	token := ""
	for {
		res, err := api.ListDefinitionVersions(ctx, connect.NewRequest(&journeysv1.ListDefinitionVersionsRequest{Community: j.community, Kind: kind,
			PageSize: 500, PageToken: token}))
		if err != nil {
			return fmt.Errorf("definition history: %w", err)
		}
		for _, v := range res.Msg.GetVersions() {
			state := "draft"
			switch {
			case v.GetCurrent():
				state = "current"
			case v.GetPublished():
				state = "published"
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s %s\n", v.GetVersion(), state, v.GetSource(), when(v.GetSavedAt()), v.GetSavedByKind(), v.GetSavedBy())
		}
		if token = res.Msg.GetNextPageToken(); token == "" {
			return w.Flush()
		}
	}
}

func definitionDiff(ctx context.Context, j *journeysFlags, kind journeysv1.JourneyKind, args []string, stdout io.Writer) error {
	versions := make([]int32, 2)
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil {
			return fmt.Errorf("definition diff: %q is not a version number", a)
		}
		versions[i] = int32(n)
	}
	api, _, err := j.clients()
	if err != nil {
		return err
	}
	res, err := api.DiffDefinitions(ctx, connect.NewRequest(&journeysv1.DiffDefinitionsRequest{Community: j.community, Kind: kind,
		FromVersion: versions[0], ToVersion: versions[1]}))
	if err != nil {
		return fmt.Errorf("definition diff: %w", err)
	}
	fmt.Fprintf(stdout, "version %d → %d\n", res.Msg.GetFromVersion(), res.Msg.GetToVersion())
	if len(res.Msg.GetChanges()) == 0 {
		_, err := fmt.Fprintln(stdout, "  no changes")
		return err
	}
	for _, c := range res.Msg.GetChanges() {
		switch c.GetChange() {
		case "added":
			fmt.Fprintf(stdout, "+ %s: %s\n", c.GetPath(), c.GetAfter())
		case "removed":
			fmt.Fprintf(stdout, "- %s: %s\n", c.GetPath(), c.GetBefore())
		default:
			fmt.Fprintf(stdout, "~ %s: %s → %s\n", c.GetPath(), c.GetBefore(), c.GetAfter())
		}
	}
	return nil
}

// refusal spells out every problem an InvalidArgument names, one a line.
func refusal(err error) error {
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInvalidArgument {
		return err
	}
	var lines []string
	for _, d := range cerr.Details() {
		v, derr := d.Value()
		if br, ok := v.(*errdetails.BadRequest); derr == nil && ok {
			for _, fv := range br.GetFieldViolations() {
				lines = append(lines, "  "+fv.GetField()+": "+fv.GetDescription())
			}
		}
	}
	if len(lines) == 0 {
		return err
	}
	return fmt.Errorf("the definition was refused:\n%s", strings.Join(lines, "\n"))
}

const steerUsage = `Usage:
  kinship journeys steer pause|resume|skip|restart|cancel (-members ID,ID | -segment NAME) [-step STEP] [-kind ambassador]
  kinship journeys migrate -to VERSION [-from VERSION] [-map STEP=STEP,...] [-members ID,ID] [-dry-run]
`

// runSteer steers the journeys of members or a segment.
func runSteer(ctx context.Context, args []string, env envFunc, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, steerUsage)
		return errors.New("journeys steer: name an action")
	}
	action, ok := journeysv1.SteerAction_value["STEER_ACTION_"+strings.ToUpper(args[0])]
	if !ok || action == 0 {
		fmt.Fprint(stderr, steerUsage)
		return fmt.Errorf("journeys steer: %q is not pause, resume, skip, restart or cancel", args[0])
	}
	var j journeysFlags
	f := newFlags("journeys steer", env)
	j.define(f)
	kindName := f.fs.String("kind", "onboarding", "onboarding or ambassador (ambassador journeys can only be cancelled)")
	members := f.fs.String("members", "", "member ids, comma-separated")
	segment := f.fs.String("segment", "", "name (or id) of a saved segment")
	step := f.fs.String("step", "", "skip: the step (empty: the current one); restart: the step to go on from")
	if err := f.parse(args[1:]); err != nil {
		return err
	}
	kind, err := kindFlag(*kindName)
	if err != nil {
		return err
	}
	api, segments, err := j.clients()
	if err != nil {
		return err
	}
	req := &journeysv1.SteerJourneysRequest{Community: j.community, Kind: kind, MemberIds: splitList(*members), Action: journeysv1.SteerAction(action), Step: *step}
	if *segment != "" {
		if req.SegmentId, err = segmentID(ctx, segments, j.community, *segment); err != nil {
			return err
		}
	}
	res, err := api.SteerJourneys(ctx, connect.NewRequest(req))
	if err != nil {
		return fmt.Errorf("steer: %w", refusal(err))
	}
	fmt.Fprintf(stdout, "%s: %d of %d journeys\n", args[0], res.Msg.GetSteered(), res.Msg.GetTotal())
	for _, fl := range res.Msg.GetFailures() {
		fmt.Fprintf(stdout, "  %s: %s\n", fl.GetMemberId(), fl.GetReason())
	}
	if res.Msg.GetFailed() > 0 {
		return fmt.Errorf("%d journeys were not steered", res.Msg.GetFailed())
	}
	return nil
}

// runMigrate moves running journeys to another version, or shows where
// they would land.
func runMigrate(ctx context.Context, args []string, env envFunc, stdout io.Writer) error {
	var j journeysFlags
	f := newFlags("journeys migrate", env)
	j.define(f)
	to := f.fs.Int("to", 0, "the published version to move journeys to")
	from := f.fs.Int("from", 0, "only journeys of this version; 0 means every other version")
	mapping := f.fs.String("map", "", "where journeys at a step land, such as complete-profile=profile,welcome=hello; unnamed steps land on the step of the same id")
	members := f.fs.String("members", "", "only these members' journeys, comma-separated")
	dry := f.fs.Bool("dry-run", false, "only show who is where and where they would land")
	if err := f.parse(args); err != nil {
		return err
	}
	stepMap := map[string]string{}
	for _, pair := range splitList(*mapping) {
		a, b, ok := strings.Cut(pair, "=")
		if !ok || a == "" || b == "" {
			return fmt.Errorf("-map %q: write STEP=STEP", pair)
		}
		stepMap[a] = b
	}
	api, _, err := j.clients()
	if err != nil {
		return err
	}
	res, err := api.MigrateJourneys(ctx, connect.NewRequest(&journeysv1.MigrateJourneysRequest{Community: j.community, ToVersion: int32(*to),
		FromVersion: int32(*from), StepMap: stepMap, MemberIds: splitList(*members), DryRun: *dry}))
	if err != nil {
		return fmt.Errorf("migrate: %w", refusal(err))
	}
	m := res.Msg
	verb := "moved"
	if m.GetDryRun() {
		verb = "would move"
	}
	fmt.Fprintf(stdout, "%d running journeys: %d %s to version %d, %d unmapped, %d started before versions, %d failed\n",
		m.GetTotal(), m.GetMoved(), verb, m.GetToVersion(), m.GetUnmapped(), m.GetNotVersioned(), m.GetFailed())
	transitions := m.GetTransitions()
	sort.SliceStable(transitions, func(a, b int) bool { return transitions[a].GetCount() > transitions[b].GetCount() })
	for _, t := range transitions {
		fmt.Fprintf(stdout, "  version %d %s → %s: %d\n", t.GetFromVersion(), t.GetFromStep(), t.GetToStep(), t.GetCount())
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEMBER\tVERSION\tSTEP\tLANDS ON\tSTATUS")
	for _, mv := range m.GetMoves() {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", mv.GetMemberId(), mv.GetFromVersion(), orDash(mv.GetFromStep()), orDash(mv.GetToStep()), mv.GetStatus())
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if m.GetFailed() > 0 {
		return fmt.Errorf("%d journeys were not moved; run it again to retry them", m.GetFailed())
	}
	return nil
}
