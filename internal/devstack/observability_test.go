package devstack_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/devstack/devstacktest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/telemetry/telemetrytest"
	"github.com/kinshiphq/kinship/internal/tracestore"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// obs is the running stack as an SRE sees it: its endpoints and every log
// line it wrote.
type obs struct {
	ep   devstack.Endpoints
	logs *syncBuffer
}

// call posts a Connect JSON request and returns the status, the answer's
// headers and its body.
func (o *obs) call(t *testing.T, url, token, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, raw
}

func (o *obs) mails(t *testing.T, to string) []smtpsink.Message {
	t.Helper()
	res, err := http.Get(o.ep.Mail + "/api/messages?to=" + to)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var msgs []smtpsink.Message
	if err := json.NewDecoder(res.Body).Decode(&msgs); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

// eventually polls check until it returns "" or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		if last = check(); last == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

// TestOneJoinIsOneTraceAndMovesEveryMetric runs the whole dev stack, makes
// one public join and confirms it, and follows it as an SRE would: one
// trace id in the API's answer connects the API call, the outbox publish,
// the Kafka consume, the workflow start, the activity, the call to the
// communications service and the SMTP send in the trace viewer, with a
// link to the workflow in the Temporal Web UI; every metric of the
// catalogue that such a join touches moved; no log line names a person.
func TestOneJoinIsOneTraceAndMovesEveryMetric(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ep, temporal := devstacktest.Start(t, devstack.Config{Communities: []string{"demo"}}, devstack.Deps{Logger: logger, Telemetry: tel}, "demo")
	o := &obs{ep: ep, logs: logs}
	t.Cleanup(func() {
		if t.Failed() { // what went wrong, in the stack's own words
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
					t.Log(line)
				}
			}
		}
	})
	organiser := ep.Tokens[auth.Organiser]
	const email, name = "grace.observed@example.org", "Grace Observed"

	// The public join answers with its trace id.
	status, header, body := o.call(t, ep.Members+"/kinship.members.v1.MembersService/JoinCommunity", "",
		fmt.Sprintf(`{"community":"demo","email":%q,"displayName":%q,"interests":["solar"],"emailConsent":true}`, email, name))
	joinTrace := header.Get(rpc.TraceHeader)
	if status != http.StatusOK || joinTrace == "" {
		t.Fatalf("JoinCommunity = %d %s with %s %q", status, body, rpc.TraceHeader, joinTrace)
	}

	// The member confirms the address; the welcome e-mail follows.
	link := regexp.MustCompile(`https?://[^\s"<>]+/confirm\?t=[^\s"<>]+`)
	var confirm string
	eventually(t, 30*time.Second, "the confirmation e-mail", func() string {
		for _, m := range o.mails(t, email) {
			if confirm = link.FindString(m.Text); confirm != "" {
				return ""
			}
		}
		return "no confirmation link yet"
	})
	// The journey waits for the address before the button is pressed.
	_, _, list := o.call(t, ep.Members+"/kinship.members.v1.MembersService/ListMembers", organiser, `{"pageSize":500}`)
	var members struct {
		Members []struct{ ID, Email string } `json:"members"`
	}
	if err := json.Unmarshal(list, &members); err != nil {
		t.Fatal(err)
	}
	memberID := ""
	for _, m := range members.Members {
		if m.Email == email {
			memberID = m.ID
		}
	}
	eventually(t, 30*time.Second, "the journey waiting for the confirmation", func() string {
		v, err := temporal.QueryWorkflow(context.Background(), onboarding.WorkflowID("demo", memberID), "", onboarding.QueryState)
		if err != nil {
			return err.Error()
		}
		var st onboarding.State
		if err := v.Get(&st); err != nil {
			return err.Error()
		}
		if st.Step != onboarding.StepConfirmEmail {
			return "step " + st.Step
		}
		return ""
	})
	res, err := http.Post(confirm, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	eventually(t, 30*time.Second, "the welcome e-mail", func() string {
		if n := len(o.mails(t, email)); n < 2 {
			return fmt.Sprintf("%d e-mails", n)
		}
		return ""
	})

	// One trace connects every step, in the viewer's JSON as on its page.
	want := []string{
		"kinship.members.v1.MembersService/JoinCommunity",
		"publish demo.members.v1",
		"process demo.members.v1",
		"StartWorkflow:Onboarding",
		"RunActivity:", // whichever activity sends the welcome
		"kinship.communications.v1.CommunicationsService/SendMessage",
		"smtp send",
	}
	var tr tracestore.Trace
	eventually(t, 30*time.Second, "one trace from the API to the e-mail", func() string {
		status, raw := get(t, ep.Traces+"/api/traces/"+joinTrace)
		if status != http.StatusOK {
			return fmt.Sprintf("viewer answered %d %s", status, raw)
		}
		tr = tracestore.Trace{}
		if err := json.Unmarshal([]byte(raw), &tr); err != nil {
			return err.Error()
		}
		var names []string
		for _, s := range tr.Spans {
			names = append(names, s.Name)
		}
		var missing []string
		for _, w := range want {
			if !slices.ContainsFunc(names, func(n string) bool { return n == w || (strings.HasSuffix(w, ":") && strings.HasPrefix(n, w)) }) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("trace %s lacks %v; has %v", joinTrace, missing, names)
		}
		return ""
	})
	services := map[string]bool{}
	var workflowURL string
	for _, s := range tr.Spans {
		services[s.Service] = true
		if s.Name == "StartWorkflow:Onboarding" {
			workflowURL = s.WorkflowURL
		}
	}
	for _, svc := range []string{"kinship-members", "kinship-worker", "kinship-communications"} {
		if !services[svc] {
			t.Errorf("the trace has no span of %s: %v", svc, services)
		}
	}
	if tr.Community != "demo" {
		t.Errorf("the trace's community = %q, want demo", tr.Community)
	}
	if status, page := get(t, ep.Traces+"/traces/"+joinTrace); status != http.StatusOK || !strings.Contains(page, "smtp send") {
		t.Errorf("the viewer's page of the trace = %d", status)
	}
	if status, _ := get(t, ep.Traces+"/api/traces/0123456789abcdef0123456789abcdef"); status != http.StatusNotFound {
		t.Errorf("an unknown trace = %d, want 404", status)
	}

	// The workflow's deep link opens the Temporal Web UI.
	if !strings.HasPrefix(workflowURL, ep.TemporalUI+"/namespaces/demo/workflows/onboarding%2Fdemo%2F") {
		t.Errorf("workflow link = %q, want one into %s", workflowURL, ep.TemporalUI)
	}
	// So does the journeys API's link to the member's journey: its run's
	// history, the workflow id escaped as one path segment.
	_, _, raw := o.call(t, ep.Worker+"/kinship.journeys.v1.JourneysService/GetJourney", organiser,
		fmt.Sprintf(`{"community":"demo","memberId":%q}`, memberID))
	var journey struct {
		Journey struct {
			WorkflowURL string `json:"workflowUrl"`
		} `json:"journey"`
	}
	if err := json.Unmarshal(raw, &journey); err != nil {
		t.Fatalf("GetJourney: %v: %s", err, raw)
	}
	journeyURL := journey.Journey.WorkflowURL
	if !strings.HasPrefix(journeyURL, ep.TemporalUI+"/namespaces/demo/workflows/onboarding%2Fdemo%2F"+memberID+"/") || !strings.HasSuffix(journeyURL, "/history") {
		t.Errorf("the journey's workflow_url = %q, want its run's history in %s", journeyURL, ep.TemporalUI)
	}
	eventually(t, 30*time.Second, "the Temporal Web UI", func() string {
		for _, u := range []string{ep.TemporalUI + "/", workflowURL, journeyURL} {
			if status, page := get(t, u); status != http.StatusOK || !strings.Contains(strings.ToLower(page), "<html") {
				return fmt.Sprintf("GET %s = %d", u, status)
			}
		}
		return ""
	})

	// The mail the join sent can be read on a page.
	if status, page := get(t, ep.Mail+"/?to="+email); status != http.StatusOK || !strings.Contains(page, "Welcome to demo") {
		t.Errorf("the mail page = %d, lacks the welcome", status)
	}

	// An error answer carries its trace id in the header and the details,
	// and the viewer holds that trace.
	status, header, body = o.call(t, ep.Members+"/kinship.members.v1.MembersService/GetMember", organiser, `{"community":"demo","id":"no-such-member"}`)
	errTrace := header.Get(rpc.TraceHeader)
	if status < 400 || errTrace == "" || !strings.Contains(string(body), "google.rpc.RequestInfo") {
		t.Errorf("GetMember of nobody = %d %s with %s %q, want an error naming its trace", status, body, rpc.TraceHeader, errTrace)
	}
	eventually(t, 10*time.Second, "the failed call's trace", func() string {
		if status, _ := get(t, ep.Traces+"/api/traces/"+errTrace); status != http.StatusOK {
			return fmt.Sprintf("viewer answered %d", status)
		}
		return ""
	})

	// An announcement posted to a webhook, as the organiser sends one.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer hook.Close()
	for _, c := range []struct{ procedure, body string }{
		{"TemplatesService/SaveTemplate", `{"community":"demo","name":"observed-news","variants":[{"subject":"News","textBody":"Hello"}]}`},
		{"AnnouncementsService/CreateWebhook", fmt.Sprintf(`{"community":"demo","url":%q,"format":"WEBHOOK_FORMAT_GENERIC"}`, hook.URL+"/hook")},
		{"AnnouncementsService/CreateAnnouncement", `{"community":"demo","template":"observed-news","webhooks":true,"idempotencyKey":"observed-1"}`},
	} {
		if status, _, body := o.call(t, ep.Communications+"/kinship.communications.v1."+c.procedure, organiser, c.body); status != http.StatusOK {
			t.Fatalf("%s = %d %s", c.procedure, status, body)
		}
	}

	// A redelivered event and a record nobody can read.
	joined := recordOf(t, ep.Kafka, memberevents.Topic("demo"), memberevents.TypeMemberJoined)
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: ep.Kafka})
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafkago.Message{Topic: joined.Topic, Key: joined.Key, Value: joined.Value, Headers: joined.Headers},
		kafkago.Message{Topic: memberevents.Topic("demo"), Key: []byte("garbage"), Value: []byte("not a cloudevent")}); err != nil {
		t.Fatal(err)
	}

	// Each metric of the catalogue a join touches moved, on the port of
	// the component that records it.
	type moved struct {
		where, series string
		labels        []string
	}
	join := []string{"rpc_method", "kinship.members.v1.MembersService/JoinCommunity", "rpc_response_status_code", "ok"}
	checks := []moved{
		{ep.Members, "rpc_server_call_duration_seconds_count", join},
		{ep.Members, "http_server_request_duration_seconds_count", nil},
		{ep.Members, "messaging_client_sent_messages_total", []string{"messaging_destination_name", "demo.members.v1"}},
		{ep.Members, "messaging_client_operation_duration_seconds_count", nil},
		{ep.Members, "kinship_outbox_pending", nil},
		{ep.Members, "kinship_outbox_oldest_age_seconds", nil},
		{ep.Members, "kinship_db_transaction_duration_seconds_count", []string{"kinship_outcome", "commit"}},
		{ep.Members, "db_client_connection_count", nil},
		{ep.Members, "db_client_connection_max", nil},
		{ep.Worker, "messaging_client_consumed_messages_total", []string{"messaging_destination_name", "demo.members.v1"}},
		{ep.Worker, "messaging_process_duration_seconds_count", nil},
		{ep.Worker, "kinship_kafka_consumer_lag", nil},
		{ep.Worker, "kinship_kafka_dead_letters_total", []string{"error_type", "undecodable"}},
		{ep.Worker, "rpc_client_call_duration_seconds_count", []string{"rpc_method", "kinship.communications.v1.CommunicationsService/SendMessage"}},
		{ep.Worker, "temporal_workflow_task_schedule_to_start_latency_seconds_count", nil},
		{ep.Worker, "temporal_activity_execution_latency_seconds_count", nil},
		{ep.Worker, "temporal_request_total", nil},
		{ep.Worker, "kinship_journeys", []string{"kinship_journey_kind", "Onboarding", "kinship_journey_status", "Running"}},
		{ep.Communications, "rpc_server_call_duration_seconds_count", []string{"rpc_method", "kinship.communications.v1.CommunicationsService/SendMessage"}},
		{ep.Communications, "kinship_inbox_duplicates_total", nil},
		{ep.Communications, "kinship_communications_deliveries_total", []string{"kinship_channel", "email", "kinship_outcome", "sent"}},
		{ep.Communications, "kinship_communications_deliveries_total", []string{"kinship_channel", "webhook", "kinship_outcome", "sent"}},
	}
	eventually(t, 30*time.Second, "every metric a join touches", func() string {
		var still []string
		scraped := map[string]telemetrytest.Samples{}
		for _, c := range checks {
			if _, ok := scraped[c.where]; !ok {
				scraped[c.where] = telemetrytest.Get(t, c.where+"/metrics")
			}
			got := scraped[c.where]
			isCount := strings.HasSuffix(c.series, "_total") || strings.HasSuffix(c.series, "_count")
			if !got.Has(c.series, c.labels...) || (isCount && got.Sum(c.series, c.labels...) < 1) {
				still = append(still, fmt.Sprintf("%s%v at %s", c.series, c.labels, c.where))
			}
			if _, ok := telemetry.Scraped(c.series); !ok {
				t.Errorf("%s is not in the telemetry catalogue", c.series)
			}
		}
		if len(still) > 0 {
			return fmt.Sprintf("not moved: %v", still)
		}
		return ""
	})

	// Logs: no line names a person, and every line written while handling
	// a request or a message names its trace, span and community.
	names, emails := devstack.SeedPeople("demo")
	for _, secret := range slices.Concat([]string{email, name, "Grace"}, names, emails) {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs name %q", secret)
		}
	}
	scanner := bufio.NewScanner(strings.NewReader(logs.String()))
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	withTrace := 0
	for scanner.Scan() {
		var rec map[string]any
		if json.Unmarshal(scanner.Bytes(), &rec) != nil {
			continue
		}
		if _, ok := rec["trace_id"]; !ok {
			continue
		}
		withTrace++
		if _, ok := rec["span_id"]; !ok {
			t.Errorf("a log line with a trace id lacks its span id: %s", scanner.Text())
		}
		if c, _ := rec["community"].(string); c != "demo" {
			t.Errorf("a log line of a request or message does not name the community: %s", scanner.Text())
		}
	}
	if withTrace == 0 {
		t.Error("no log line carries a trace id")
	}
}

// recordOf returns the first record of type eventType on topic.
func recordOf(t *testing.T, brokers []string, topic, eventType string) kafkago.Message {
	t.Helper()
	for p := range 4 {
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			if e, err := kafka.ParseEvent(m); err == nil && e.Type == eventType {
				r.Close()
				return m
			}
		}
		r.Close()
	}
	t.Fatalf("no %s on %s", eventType, topic)
	return kafkago.Message{}
}
