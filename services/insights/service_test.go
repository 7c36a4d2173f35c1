package insights_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	kafkago "github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	insightsv1 "github.com/kinshiphq/kinship/gen/kinship/insights/v1"
	"github.com/kinshiphq/kinship/gen/kinship/insights/v1/insightsv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/rpc"
	w "github.com/kinshiphq/kinship/services/insights/demo"
)

func TestTheServiceCountsWhatItConsumesFromKafka(t *testing.T) {
	s := start(t, w.New("demo"))
	x := scenario()
	evs := told(x, 6)
	// An undecodable record and one naming another community go to the
	// dead-letter topic; the feed goes on.
	bad := evs[0]
	bad.ID, bad.Data = "bad-record", []byte{0xff, 0x01}
	foreign, err := kafka.NewProto(kafka.Event{Type: evs[1].Type, Source: evs[1].Source, Time: evs[1].Time, Topic: "other." + strings.SplitN(evs[1].Topic, ".", 2)[1], Key: evs[1].Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	foreign.Data = evs[1].Data
	s.publish(t, append([]kafka.Event{bad, foreign}, evs...))
	want := []float64{2, 4, 4, 4, 5, 4, 4, 3, 3, 3}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := s.weekly(t, "members.total")
		if sameValues(got, want) && sameValues(s.weekly(t, "partners.agreements_expiring_60"), []float64{0, 0, 0, 0, 1, 1, 1, 2, 2, 1}) &&
			sameValues(s.weekly(t, "events.feedback_mean"), []float64{0, 4.5, 0, 0, 0, 0, 2.5, 0, 0, 0}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members.total by week is %v after 30 s, want %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, topic := range []string{"demo.members.v1.dlq", "other.events.v1.dlq"} {
		if topic == "other.events.v1.dlq" && !strings.HasPrefix(foreign.Topic, "other.events") {
			topic = kafka.DeadLetterTopic(foreign.Topic)
		}
		if n := dlq(t, s.brokers, topic); n != 1 {
			t.Errorf("%s holds %d records, want 1", topic, n)
		}
	}
}

// dlq counts the records of a dead-letter topic.
func dlq(t *testing.T, brokers []string, topic string) int {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	for {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		_, err := r.ReadMessage(rctx)
		rcancel()
		if err != nil {
			return n
		}
		n++
	}
}

func TestARebuildThroughTheAPIReadsEveryServicesHistory(t *testing.T) {
	s := start(t, scenario())
	res := s.rebuild(t)
	counts := map[string]int64{}
	for _, c := range res.GetCounts() {
		counts[c.GetSource()+"/"+c.GetKind()] += c.GetRecords()
	}
	if counts["members/member"] != 5 || counts["members/activity"] != 6 || counts["events/attendance"] != 7 || counts["partners/contribution"] != 4 ||
		counts["communications/message"] != 8 || res.GetEstimatedLeaveTimes() != 0 {
		t.Errorf("rebuild read %v (estimated %d)", counts, res.GetEstimatedLeaveTimes())
	}
	if got := s.weekly(t, "members.total"); !sameValues(got, []float64{2, 4, 4, 4, 5, 4, 4, 3, 3, 3}) {
		t.Errorf("members.total after the rebuild: %v", got)
	}
	if counts["journeys/nomination"] != 5 {
		t.Errorf("rebuild read %d nominations from the journeys API, want 5", counts["journeys/nomination"])
	}
	if got := s.weekly(t, "ambassadors.nominations"); !sameValues(got, []float64{0, 0, 1, 0, 1, 1, 1, 0, 0, 1}) {
		t.Errorf("nominations after the rebuild: %v", got)
	}
	// A rebuild again changes nothing.
	s.rebuild(t)
	if got := s.weekly(t, "events.attendance_rate"); !sameValues(got, []float64{0, 2.0 / 3, 0, 0, 0, 0, 1, 0, 0, 0}) {
		t.Errorf("attendance rate after a second rebuild: %v", got)
	}
}

func TestTheServiceReadsTheNominationsFromTheWorker(t *testing.T) {
	s := start(t, w.New("demo"))
	// Read at the start, with the workload token the journeys API's
	// policy lets in; then on schedule.
	want := map[string][]float64{
		"ambassadors.nominations":          {0, 0, 1, 0, 1, 1, 1, 0, 0, 1},
		"ambassadors.nominations_approved": {0, 0, 0, 1, 1, 0, 0, 0, 0, 0},
		"ambassadors.nominations_rejected": {0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for m, v := range want {
			ok = ok && sameValues(s.weekly(t, m), v)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nominations by week are %v after 30 s, want %v", s.weekly(t, "ambassadors.nominations"), want["ambassadors.nominations"])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestExportSeriesIsCSVOfTheSeries(t *testing.T) {
	s := start(t, scenario())
	s.rebuild(t)
	stream, err := s.insights.ExportSeries(context.Background(), connect.NewRequest(&insightsv1.ExportSeriesRequest{Community: "demo",
		Metric: "communications.sent", FromDate: "2026-02-02", ToDate: "2026-02-08", Granularity: insightsv1.Granularity_GRANULARITY_WEEK}))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for stream.Receive() {
		b.Write(stream.Msg().GetChunk())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"metric", "period_start", "period_end", "channel", "value", "partial"},
		{"communications.sent", "2026-02-02", "2026-02-08", "total", "3", "false"},
		{"communications.sent", "2026-02-02", "2026-02-08", "email", "2", "false"},
		{"communications.sent", "2026-02-02", "2026-02-08", "webhook", "1", "false"}}
	if len(rows) != len(want) {
		t.Fatalf("CSV %q", b.String())
	}
	for i := range want {
		if !slices.Equal(rows[i], want[i]) {
			t.Errorf("row %d = %v, want %v", i, rows[i], want[i])
		}
	}
}

func TestSyncGoalsLetsTheResourceWinForTheGoalsItNames(t *testing.T) {
	s := start(t, scenario())
	s.rebuild(t)
	ctx := context.Background()
	if _, err := s.goals.CreateGoal(ctx, connect.NewRequest(&insightsv1.CreateGoalRequest{Community: "demo", Goal: &insightsv1.GoalSpec{
		Name: "grow", Metric: "members.total", Target: 50, Deadline: "2026-12-31"}})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.goals.CreateGoal(ctx, connect.NewRequest(&insightsv1.CreateGoalRequest{Community: "demo", Goal: &insightsv1.GoalSpec{
		Name: "console-only", Metric: "events.held", Target: 10}})); err != nil {
		t.Fatal(err)
	}
	operator := insightsv1connect.NewGoalsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
	res, err := operator.SyncGoals(ctx, connect.NewRequest(&insightsv1.SyncGoalsRequest{Community: "demo", Goals: []*insightsv1.GoalSpec{
		{Name: "grow", Metric: "members.total", Target: 3},
		{Name: "engage", Metric: "members.active_rate", Target: 0.5, Deadline: "2026-06-30"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	got := res.Msg.GetGoals()
	if len(got) != 2 || got[0].GetSpec().GetName() != "grow" || got[0].GetSpec().GetTarget() != 3 || got[0].GetSource() != insightsv1.GoalSource_GOAL_SOURCE_RESOURCE ||
		got[0].GetProgress().GetStatus() != insightsv1.GoalStatus_GOAL_STATUS_ACHIEVED || got[0].GetProgress().GetReason() != "Achieved" {
		t.Fatalf("synced %v", got)
	}
	// 3 members, 1 active: a third, on a flat trend to the end of June.
	if p := got[1].GetProgress(); !near(p.GetCurrent(), 1.0/3) || p.GetDaysLeft() != 107 || p.GetMessage() == "" {
		t.Errorf("engage: %v", p)
	}
	if res.Msg.GetOnTrack() < 1 {
		t.Errorf("%d on track", res.Msg.GetOnTrack())
	}
	_, err = s.goals.UpdateGoal(ctx, connect.NewRequest(&insightsv1.UpdateGoalRequest{Community: "demo", Name: "grow",
		Goal: &insightsv1.GoalSpec{Target: 100}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"target"}}}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("changing the resource's goal through the API: %v", err)
	}
	// The resource no longer names grow: it is archived; the console's
	// own goal stays.
	res, err = operator.SyncGoals(ctx, connect.NewRequest(&insightsv1.SyncGoalsRequest{Community: "demo", Goals: []*insightsv1.GoalSpec{
		{Name: "engage", Metric: "members.active_rate", Target: 0.5, Deadline: "2026-06-30"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Msg.GetArchived(), []string{"grow"}) {
		t.Errorf("archived %v", res.Msg.GetArchived())
	}
	list, err := s.goals.ListGoals(ctx, connect.NewRequest(&insightsv1.ListGoalsRequest{Community: "demo"}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range list.Msg.GetGoals() {
		names = append(names, g.GetSpec().GetName())
	}
	if !slices.Equal(names, []string{"console-only", "engage"}) {
		t.Errorf("goals %v", names)
	}
}

func TestTheHealthReportGoesToTheOrganisersOnceAWeekGoalsFirst(t *testing.T) {
	s := start(t, scenario())
	s.rebuild(t)
	ctx := context.Background()
	if _, err := s.goals.CreateGoal(ctx, connect.NewRequest(&insightsv1.CreateGoalRequest{Community: "demo", Goal: &insightsv1.GoalSpec{
		Name: "grow", Metric: "members.total", Target: 10, Deadline: "2026-12-31"}})); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		res, err := s.insights.SendHealthReport(ctx, connect.NewRequest(&insightsv1.SendHealthReportRequest{Community: "demo"}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Msg.GetRecipients() != 1 || res.Msg.GetWeekStart() != "2026-03-02" {
			t.Errorf("report %v", res.Msg)
		}
	}
	s.comms.mu.Lock()
	defer s.comms.mu.Unlock()
	tmpl, ok := s.comms.templates["demo/health-report"]
	if !ok || !strings.Contains(tmpl.GetVariants()[0].GetTextBody(), "{{.Vars.goals}}") {
		t.Errorf("template %v", tmpl)
	}
	if len(s.comms.sent) != 1 {
		t.Fatalf("%d messages, want 1 (to the organiser, once)", len(s.comms.sent))
	}
	for key, m := range s.comms.sent {
		if key != "insights/health-report/demo/2026-03-09/org" || m.GetMemberId() != "org" || m.GetTemplate() != "health-report" {
			t.Errorf("message %s: %v", key, m)
		}
		if g := m.GetVariables()["goals"]; !strings.HasPrefix(g, "- grow (") || !strings.Contains(g, "members.total is 3") {
			t.Errorf("goals %q", g)
		}
		if v := m.GetVariables()["metrics"]; !strings.Contains(v, "- Members: 3 (the week before: 3)") {
			t.Errorf("metrics %q", v)
		}
	}
}

func TestTheMetricsAreOpenTelemetryGaugesPerCommunity(t *testing.T) {
	s := start(t, scenario())
	s.rebuild(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var rm metricdata.ResourceMetrics
		if err := s.metrics.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				g, ok := m.Data.(metricdata.Gauge[float64])
				if !ok {
					continue
				}
				for _, dp := range g.DataPoints {
					c, _ := dp.Attributes.Value("community")
					if ch, ok := dp.Attributes.Value("channel"); ok {
						got[m.Name+"/"+c.AsString()+"/"+ch.AsString()] = dp.Value
						continue
					}
					got[m.Name+"/"+c.AsString()] = dp.Value
				}
			}
		}
		// The rebuild came after the first refresh: wait for the next.
		if got["kinship.insights.members.total/demo"] == 3 {
			if got["kinship.insights.members.total/other"] != 0 || got["kinship.insights.partners.active/demo"] != 1 {
				t.Errorf("gauges %v", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gauges after 20 s: %v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestBadInputIsRefusedNamingTheField(t *testing.T) {
	s := start(t, scenario())
	ctx := context.Background()
	query := func(m *insightsv1.QueryMetricRequest) error {
		_, err := s.insights.QueryMetric(ctx, connect.NewRequest(m))
		return err
	}
	goal := func(g *insightsv1.GoalSpec) error {
		_, err := s.goals.CreateGoal(ctx, connect.NewRequest(&insightsv1.CreateGoalRequest{Community: "demo", Goal: g}))
		return err
	}
	for _, c := range []struct {
		name  string
		call  func() error
		field string
	}{
		{"unknown metric", func() error {
			return query(&insightsv1.QueryMetricRequest{Community: "demo", Metric: "members.happiness"})
		}, "metric"},
		{"bad granularity", func() error {
			return query(&insightsv1.QueryMetricRequest{Community: "demo", Metric: "members.total", Granularity: insightsv1.Granularity(9)})
		}, "granularity"},
		{"longer than the series keep", func() error {
			return query(&insightsv1.QueryMetricRequest{Community: "demo", Metric: "members.total", FromDate: "2020-01-01"})
		}, "from_date"},
		{"reversed", func() error {
			return query(&insightsv1.QueryMetricRequest{Community: "demo", Metric: "members.total", FromDate: "2026-03-01", ToDate: "2026-02-01"})
		}, "to_date"},
		{"not a date", func() error {
			return query(&insightsv1.QueryMetricRequest{Community: "demo", Metric: "members.total", FromDate: "March"})
		}, "from_date"},
		{"a segment of a metric it cannot filter", func() error {
			return query(&insightsv1.QueryMetricRequest{Community: "demo", Metric: "events.held", Segment: &insightsv1.Segment{Levels: []string{"Core"}}})
		}, "segment"},
		{"a community not served", func() error {
			admin := insightsv1connect.NewInsightsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Token(t, localissuer.Claims{Subject: "root", Roles: []string{string(auth.PlatformAdmin)}})))
			_, err := admin.QueryMetric(ctx, connect.NewRequest(&insightsv1.QueryMetricRequest{Community: "elsewhere", Metric: "members.total"}))
			return err
		}, "community"},
		{"goal: unknown metric", func() error { return goal(&insightsv1.GoalSpec{Name: "g", Metric: "members.happiness", Target: 1}) }, "goal.metric"},
		{"goal: target 0", func() error { return goal(&insightsv1.GoalSpec{Name: "g", Metric: "members.total", Target: 0}) }, "goal.target"},
		{"goal: deadline past", func() error {
			return goal(&insightsv1.GoalSpec{Name: "g", Metric: "members.total", Target: 5, Deadline: "2026-03-14"})
		}, "goal.deadline"},
		{"goal: baseline before the series", func() error {
			return goal(&insightsv1.GoalSpec{Name: "g", Metric: "members.total", Target: 5, BaselineDate: "2020-01-01"})
		}, "goal.baseline_date"},
		{"goal: name", func() error { return goal(&insightsv1.GoalSpec{Name: "Grow!", Metric: "members.total", Target: 5}) }, "goal.name"},
		{"update: unknown path", func() error {
			_, err := s.goals.UpdateGoal(ctx, connect.NewRequest(&insightsv1.UpdateGoalRequest{Community: "demo", Name: "g",
				UpdateMask: &fieldmaskpb.FieldMask{}}))
			return err
		}, "update_mask"},
		{"sync: too many goals", func() error {
			var gs []*insightsv1.GoalSpec
			for i := range 21 {
				gs = append(gs, &insightsv1.GoalSpec{Name: "g" + string(rune('a'+i)), Metric: "members.total", Target: 1})
			}
			admin := insightsv1connect.NewGoalsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
			_, err := admin.SyncGoals(ctx, connect.NewRequest(&insightsv1.SyncGoalsRequest{Community: "demo", Goals: gs}))
			return err
		}, "goals"},
		{"sync: one bad goal of two", func() error {
			admin := insightsv1connect.NewGoalsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.Workload(t)))
			_, err := admin.SyncGoals(ctx, connect.NewRequest(&insightsv1.SyncGoalsRequest{Community: "demo", Goals: []*insightsv1.GoalSpec{
				{Name: "ok", Metric: "members.total", Target: 1}, {Name: "bad", Metric: "members.total", Target: -2}}}))
			return err
		}, "goals[1].target"},
	} {
		err := c.call()
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.Contains(rpc.FieldViolations(err), c.field) {
			t.Errorf("%s: %v (fields %v), want InvalidArgument on %s", c.name, err, rpc.FieldViolations(err), c.field)
		}
	}
	// Nothing was stored on refusal.
	list, err := s.goals.ListGoals(ctx, connect.NewRequest(&insightsv1.ListGoalsRequest{Community: "demo", IncludeArchived: true}))
	if err != nil || len(list.Msg.GetGoals()) != 0 {
		t.Errorf("goals after refusals: %v %v", list, err)
	}
	// Another community's organiser sees nothing of demo.
	other := insightsv1connect.NewGoalsServiceClient(http.DefaultClient, s.url, authtest.Bearer(s.issuer.For(t, "other", auth.Organiser)))
	if _, err := other.ListGoals(ctx, connect.NewRequest(&insightsv1.ListGoalsRequest{Community: "demo"})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("other community's organiser listing demo's goals: %v", err)
	}
}
