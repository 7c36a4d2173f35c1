// Package e2e runs the whole platform in-process — embedded Temporal, the
// Kafka-protocol broker, the SMTP sink, the services and the worker — and
// follows one member's public join from the API through the confirmation
// link to the welcome e-mail.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/authtest"
	"github.com/kinshiphq/kinship/internal/devstack"
	"github.com/kinshiphq/kinship/internal/devstack/devstacktest"
	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/smtpsink"
	"github.com/kinshiphq/kinship/internal/telemetry"
	memberevents "github.com/kinshiphq/kinship/services/members/events"
	"github.com/kinshiphq/kinship/workflows"
	"github.com/kinshiphq/kinship/workflows/onboarding"
)

type stack struct {
	ep       devstack.Endpoints
	recorder *tracetest.SpanRecorder
	temporal client.Client
	logs     *syncBuffer
}

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

func startStack(t *testing.T) *stack {
	t.Helper()
	recorder := tracetest.NewSpanRecorder()
	tel, err := telemetry.New(context.Background(), telemetry.Config{Processors: []sdktrace.SpanProcessor{recorder}})
	if err != nil {
		t.Fatal(err)
	}
	// Every record at debug level is kept, to prove no personal data is
	// logged; with -v they go to stderr too.
	logs := &syncBuffer{}
	var out io.Writer = logs
	if testing.Verbose() {
		out = io.MultiWriter(logs, os.Stderr)
	}
	logger := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	s := &stack{recorder: recorder, logs: logs}
	s.ep, s.temporal = devstacktest.Start(t, devstack.Config{Communities: []string{"demo"}}, devstack.Deps{Logger: logger, Telemetry: tel}, "demo")
	return s
}

// join posts a JoinCommunity request as JSON, as the README's curl does,
// and returns the new member's id, which the answer does not tell (a
// public join answers the same for every address): the organiser finds it.
func (s *stack) join(t *testing.T, email string) string {
	t.Helper()
	body := fmt.Sprintf(`{"community":"demo","email":%q,"displayName":"Ada Lovelace","interests":["solar"],"emailConsent":true}`, email)
	res, err := http.Post(s.ep.Members+"/kinship.members.v1.MembersService/JoinCommunity", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(raw) != `{"confirmationSent":true}` {
		t.Fatalf("JoinCommunity = %d %s, want 200 {\"confirmationSent\":true}", res.StatusCode, raw)
	}
	list := s.call(t, s.ep.Members+"/kinship.members.v1.MembersService/ListMembers", s.ep.Tokens[auth.Organiser], `{"pageSize":500}`)
	var out struct {
		Members []struct {
			ID, Email     string
			EmailVerified bool `json:"emailVerified"`
		} `json:"members"`
	}
	if err := json.Unmarshal(list, &out); err != nil {
		t.Fatal(err)
	}
	for _, m := range out.Members {
		if m.Email == email {
			if m.EmailVerified {
				t.Errorf("a public join's address is verified before its confirmation")
			}
			return m.ID
		}
	}
	t.Fatalf("no member %s after the join: %s", email, list)
	return ""
}

// confirmationLink waits for the confirmation e-mail to address and
// returns the signed link it carries.
func (s *stack) confirmationLink(t *testing.T, deadline time.Time, address string) string {
	t.Helper()
	link := regexp.MustCompile(`https?://[^\s"<>]+/confirm\?t=[^\s"<>]+`)
	var found string
	eventually(t, deadline, "confirmation e-mail in the sink", func() string {
		msgs := s.mails(t, address)
		for _, m := range msgs {
			if l := link.FindString(m.Text); l != "" {
				found = l
				return ""
			}
		}
		return fmt.Sprintf("%d e-mails to %s, none with a confirmation link", len(msgs), address)
	})
	return found
}

// verified reports whether the member's address is confirmed, as the
// organiser sees it.
func (s *stack) verified(t *testing.T, memberID string) bool {
	t.Helper()
	raw := s.call(t, s.ep.Members+"/kinship.members.v1.MembersService/GetMember", s.ep.Tokens[auth.Organiser], fmt.Sprintf(`{"id":%q}`, memberID))
	var out struct {
		Member struct {
			EmailVerified bool `json:"emailVerified"`
		} `json:"member"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out.Member.EmailVerified
}

func (s *stack) mails(t *testing.T, to string) []smtpsink.Message {
	t.Helper()
	res, err := http.Get(s.ep.Mail + "/api/messages?to=" + to)
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

// eventually polls check until it returns "" or the deadline passes.
func eventually(t *testing.T, deadline time.Time, what string, check func() string) {
	t.Helper()
	last := ""
	for time.Now().Before(deadline) {
		if last = check(); last == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s", what, last)
}

func TestJoinRunsEndToEnd(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	const email = "ada@example.org"
	start := time.Now()
	memberID := s.join(t, email)
	deadline := start.Add(10 * time.Second)
	workflowID := onboarding.WorkflowID("demo", memberID)

	// MemberJoined is on the topic with the CloudEvents headers and a traceparent.
	var joined kafkago.Message
	eventually(t, deadline, "MemberJoined on demo.members.v1", func() string {
		for _, m := range readTopic(t, s.ep.Kafka, memberevents.Topic("demo")) {
			if string(m.Key) == memberID {
				joined = m
				return ""
			}
		}
		return "no record keyed by the member"
	})
	headers := kafka.HeaderCarrier{Headers: &joined.Headers}
	for _, h := range []string{"ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type", "traceparent"} {
		if headers.Get(h) == "" {
			t.Errorf("MemberJoined record lacks header %s: %v", h, headers.Keys())
		}
	}
	if got := headers.Get("ce_type"); got != memberevents.TypeMemberJoined {
		t.Errorf("ce_type = %q", got)
	}

	// The onboarding journey with the member's id is running.
	eventually(t, deadline, "onboarding workflow running", func() string {
		d, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
		if err != nil {
			return err.Error()
		}
		if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return "status " + st.String()
		}
		return ""
	})

	// The journey waits for the address: the only e-mail is the
	// confirmation, and looking at its link (a GET, as a mail scanner
	// would) confirms nothing.
	link := s.confirmationLink(t, deadline, email)
	eventually(t, deadline, "journey waiting for the confirmation", func() string {
		v, err := s.temporal.QueryWorkflow(ctx, workflowID, "", onboarding.QueryState)
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
	page, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	pageBody, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(pageBody)), "<form") {
		t.Errorf("GET of the confirmation link = %d %s, want a page with a button", page.StatusCode, pageBody)
	}
	if n := len(s.mails(t, email)); n != 1 || s.verified(t, memberID) {
		t.Fatalf("before the confirmation: %d e-mails, verified %v; want only the confirmation", n, s.verified(t, memberID))
	}

	// Pressing the button confirms the address; the welcome follows.
	confirmed, err := http.Post(link, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	confirmedBody, _ := io.ReadAll(confirmed.Body)
	confirmed.Body.Close()
	if confirmed.StatusCode != http.StatusOK {
		t.Fatalf("POST of the confirmation link = %d %s", confirmed.StatusCode, confirmedBody)
	}
	if !s.verified(t, memberID) {
		t.Error("the address is not verified after the confirmation")
	}
	deadline = time.Now().Add(10 * time.Second)
	eventually(t, deadline, "welcome e-mail in the sink", func() string {
		msgs := s.mails(t, email)
		if len(msgs) != 2 {
			return fmt.Sprintf("%d e-mails to %s", len(msgs), email)
		}
		if !strings.HasPrefix(msgs[1].Subject, "Welcome to demo") {
			return "subject " + msgs[1].Subject
		}
		return ""
	})

	// Every span of the journey shares the API call's trace.
	want := []string{
		"kinship.members.v1.MembersService/JoinCommunity",
		"publish demo.members.v1",
		"process demo.members.v1",
		"StartWorkflow:Onboarding",
		"RunWorkflow:Onboarding",
		"StartActivity:AddressConfirmed",
		"StartActivity:SendTemplate",
		"RunActivity:SendTemplate",
		"kinship.members.v1.MembersService/GetMember",
		"kinship.communications.v1.CommunicationsService/SendMessage",
		"smtp send",
	}
	eventually(t, deadline, "one trace from the API to the e-mail", func() string {
		return missingSpans(s.recorder, want)
	})
	t.Logf("join → confirmation → welcome e-mail and full trace in %v", time.Since(start).Round(time.Millisecond))

	// A redelivered MemberJoined starts no second journey and sends no second e-mail.
	first, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	w := kafka.NewWriter(kafka.WriterConfig{Brokers: s.ep.Kafka})
	defer w.Close()
	redelivered := kafkago.Message{Topic: joined.Topic, Key: joined.Key, Value: joined.Value, Headers: joined.Headers}
	if err := w.WriteMessages(ctx, redelivered); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Now().Add(10*time.Second), "trigger consumed the redelivery", func() string {
		return lagOf(t, s.ep.Kafka, memberevents.Topic("demo"))
	})
	time.Sleep(500 * time.Millisecond) // room for a wrong second e-mail to arrive
	again, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	if again.GetWorkflowExecutionInfo().GetExecution().GetRunId() != first.GetWorkflowExecutionInfo().GetExecution().GetRunId() {
		t.Error("the redelivery started a new run of the journey")
	}
	list, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "demo", Query: fmt.Sprintf("WorkflowId = '%s'", workflowID)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetExecutions()); n != 1 {
		t.Errorf("executions of %s = %d, want 1", workflowID, n)
	}
	if n := len(s.mails(t, email)); n != 2 {
		t.Errorf("e-mails after the redelivery = %d, want the confirmation and the welcome", n)
	}

	// The member's e-mail address and name appear in no log record and no span.
	for _, secret := range []string{email, "Lovelace"} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
		if where := spanMentioning(s.recorder, secret); where != "" {
			t.Errorf("span %s contains %q", where, secret)
		}
	}
}

// spanMentioning names a span whose name, attributes, events or status
// contain s.
func spanMentioning(rec *tracetest.SpanRecorder, s string) string {
	for _, span := range rec.Ended() {
		text := span.Name() + " " + span.Status().Description
		for _, kv := range span.Attributes() {
			text += " " + kv.Value.String()
		}
		for _, e := range span.Events() {
			text += " " + e.Name
			for _, kv := range e.Attributes {
				text += " " + kv.Value.String()
			}
		}
		if strings.Contains(text, s) {
			return span.Name()
		}
	}
	return ""
}

func TestAPIKeyMadeByMembersWorksOnCommunications(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	access := membersv1connect.NewAccessServiceClient(http.DefaultClient, s.ep.Members, authtest.Bearer(s.ep.Tokens[auth.Organiser]))
	created, err := access.CreateAPIKey(ctx, connect.NewRequest(&membersv1.CreateAPIKeyRequest{Name: "newsletter script", Roles: []string{"staff"}}))
	if err != nil {
		t.Fatal(err)
	}
	// The organiser adds Grace (vouching for her address); the script
	// writes to her once the communications service knows her.
	members := membersv1connect.NewMembersServiceClient(http.DefaultClient, s.ep.Members, authtest.Bearer(s.ep.Tokens[auth.Organiser]))
	grace, err := members.JoinCommunity(ctx, connect.NewRequest(&membersv1.JoinCommunityRequest{Email: "grace@example.org", DisplayName: "Grace Hopper"}))
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"idempotencyKey":"script/1","memberId":%q,"toEmail":"grace@example.org","subject":"Hello","textBody":"Hi"}`, grace.Msg.GetMember().GetId())
	eventually(t, time.Now().Add(15*time.Second), "SendMessage with a staff API key", func() string {
		if code := s.post(t, s.ep.Communications+"/kinship.communications.v1.CommunicationsService/SendMessage", created.Msg.GetSecret(), body); code != http.StatusOK {
			return fmt.Sprintf("status %d", code)
		}
		return ""
	})
	// Her welcome may arrive too; the script's message arrives once.
	eventually(t, time.Now().Add(10*time.Second), "the script's e-mail", func() string {
		n := 0
		for _, m := range s.mails(t, "grace@example.org") {
			if m.Subject == "Hello" {
				n++
			}
		}
		if n != 1 {
			return fmt.Sprintf("e-mails sent with the key = %d, want 1", n)
		}
		return ""
	})
	memberKey, err := access.CreateAPIKey(ctx, connect.NewRequest(&membersv1.CreateAPIKeyRequest{Name: "member bot", Roles: []string{"member"}}))
	if err != nil {
		t.Fatal(err)
	}
	if code := s.post(t, s.ep.Communications+"/kinship.communications.v1.CommunicationsService/SendMessage", memberKey.Msg.GetSecret(), body); code != http.StatusForbidden {
		t.Errorf("SendMessage with a member API key = %d, want 403", code)
	}
}

// call sends a Connect JSON request and returns the answer, failing the
// test on anything but 200.
func (s *stack) call(t *testing.T, url, token, body string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s = %d %s", url, res.StatusCode, raw)
	}
	return raw
}

// post sends a Connect JSON request and returns the HTTP status.
func (s *stack) post(t *testing.T, url, token, body string) int {
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
	res.Body.Close()
	return res.StatusCode
}

// missingSpans names the spans of want not yet started in the trace of the
// JoinCommunity server span, or says which trace a span strayed to.
func missingSpans(rec *tracetest.SpanRecorder, want []string) string {
	var root trace.TraceID
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Started() {
		byName[s.Name()] = append(byName[s.Name()], s)
		if s.Name() == want[0] && s.SpanKind() == trace.SpanKindServer {
			root = s.SpanContext().TraceID()
		}
	}
	if !root.IsValid() {
		return "no JoinCommunity server span"
	}
	var missing []string
	for _, name := range want {
		found := false
		for _, s := range byName[name] {
			if s.SpanContext().TraceID() == root {
				found = true
			}
		}
		if !found {
			var traces []string
			for _, s := range byName[name] {
				traces = append(traces, s.SpanContext().TraceID().String())
			}
			missing = append(missing, fmt.Sprintf("%s (seen in traces %v)", name, traces))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return fmt.Sprintf("trace %s lacks %v", root, missing)
	}
	return ""
}

// readTopic returns every record on topic.
func readTopic(t *testing.T, brokers []string, topic string) []kafkago.Message {
	t.Helper()
	conn, err := kafkago.Dial("tcp", brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	partitions, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out []kafkago.Message
	for _, p := range partitions {
		leader, err := kafkago.DialLeader(context.Background(), "tcp", brokers[0], topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := leader.ReadLastOffset()
		leader.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			m, err := r.ReadMessage(ctx)
			cancel()
			if err != nil {
				t.Fatalf("read %s/%d: %v", topic, p.ID, err)
			}
			out = append(out, m)
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return out
}

// lagOf returns "" once the trigger's group has committed every record of
// topic, or how far behind it is.
func lagOf(t *testing.T, brokers []string, topic string) string {
	t.Helper()
	c := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 5 * time.Second}
	meta, err := c.Metadata(context.Background(), &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		return fmt.Sprintf("metadata: %v", err)
	}
	var parts []int
	var offsetReqs []kafkago.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		parts = append(parts, p.ID)
		offsetReqs = append(offsetReqs, kafkago.LastOffsetOf(p.ID))
	}
	ends, err := c.ListOffsets(context.Background(), &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: offsetReqs}})
	if err != nil {
		return fmt.Sprintf("list offsets: %v", err)
	}
	committed, err := c.OffsetFetch(context.Background(), &kafkago.OffsetFetchRequest{GroupID: kafka.Group(workflows.TriggerGroup, []string{"demo"}), Topics: map[string][]int{topic: parts}})
	if err != nil {
		return fmt.Sprintf("offset fetch: %v", err)
	}
	done := map[int]int64{}
	for _, p := range committed.Topics[topic] {
		done[p.Partition] = p.CommittedOffset
	}
	var behind bytes.Buffer
	for _, p := range ends.Topics[topic] {
		if p.LastOffset > 0 && done[p.Partition] < p.LastOffset {
			fmt.Fprintf(&behind, "partition %d at %d of %d; ", p.Partition, done[p.Partition], p.LastOffset)
		}
	}
	return behind.String()
}
