package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/telemetry/telemetrytest"
	"github.com/kinshiphq/kinship/internal/validate"
)

const getProcedure = "/kinship.test.v1.TestService/Get"

// shared is one error value a handler returns to every caller.
var shared = connect.NewError(connect.CodeNotFound, errors.New("no such member"))

// fakeGuard plays the auth interceptor: the X-Test-Community header, when
// present, is the caller's community.
type fakeGuard struct{}

func (fakeGuard) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if c := req.Header().Get("X-Test-Community"); c != "" {
			ctx = auth.WithPrincipal(ctx, auth.Principal{Kind: auth.KindUser, Subject: "s1", Community: c, Roles: []auth.Role{auth.Organiser}}, auth.ScopeNone)
		}
		return next(ctx, req)
	}
}
func (fakeGuard) WrapStreamingClient(n connect.StreamingClientFunc) connect.StreamingClientFunc {
	return n
}
func (fakeGuard) WrapStreamingHandler(n connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return n
}

type rig struct {
	url     string
	tel     *telemetry.Telemetry
	spans   *tracetest.SpanRecorder
	logs    *bytes.Buffer
	client  *connect.Client[membersv1.GetMemberRequest, membersv1.GetMemberResponse]
	metrics http.Handler
}

func newRig(t *testing.T) *rig {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tel, err := telemetry.New(context.Background(), telemetry.Config{Processors: []sdktrace.SpanProcessor{spans}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	logger := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(logs, nil)))
	tp := tel.TracerProvider("kinship-test")
	handler := connect.NewUnaryHandler(getProcedure, func(ctx context.Context, req *connect.Request[membersv1.GetMemberRequest]) (*connect.Response[membersv1.GetMemberResponse], error) {
		logger.InfoContext(ctx, "handling", "member_id", req.Msg.GetId())
		switch req.Msg.GetId() {
		case "bad":
			return nil, ToConnect(ctx, logger, getProcedure, validate.Field("id", "must be a member id"))
		case "gone":
			return nil, shared
		case "broken":
			return nil, ToConnect(ctx, logger, getProcedure, errors.New("database at 10.0.0.7 refused"))
		}
		return connect.NewResponse(&membersv1.GetMemberResponse{}), nil
	}, HandlerOptions(tp, logger, fakeGuard{})...)
	mux := http.NewServeMux()
	mux.Handle(getProcedure, handler)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := connect.NewClient[membersv1.GetMemberRequest, membersv1.GetMemberResponse](srv.Client(), srv.URL+getProcedure,
		ClientOptions(tel.TracerProvider("kinship-caller"), fakeGuard{})...)
	return &rig{url: srv.URL, tel: tel, spans: spans, logs: logs, client: client,
		metrics: telemetry.MetricsHandler(telemetry.MeterProviderOf(tp))}
}

// serverSpan returns the last server span recorded.
func (r *rig) serverSpan(t *testing.T) sdktrace.ReadOnlySpan {
	t.Helper()
	ended := r.spans.Ended()
	for i := len(ended) - 1; i >= 0; i-- {
		if ended[i].SpanKind() == trace.SpanKindServer {
			return ended[i]
		}
	}
	t.Fatal("no server span")
	return nil
}

func TestEveryAnswerCarriesItsTraceID(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	res, err := r.client.CallUnary(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Id: "m1"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Header().Get(TraceHeader), r.serverSpan(t).SpanContext().TraceID().String(); got != want {
		t.Errorf("success: %s = %q, want the server span's trace %q", TraceHeader, got, want)
	}
	tests := []struct {
		id     string
		code   connect.Code
		fields []string
	}{
		{"bad", connect.CodeInvalidArgument, []string{"id"}},
		{"gone", connect.CodeNotFound, nil},
		{"gone", connect.CodeNotFound, nil}, // the shared error value again
		{"broken", connect.CodeInternal, nil},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			_, err := r.client.CallUnary(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Id: tt.id}))
			want := r.serverSpan(t).SpanContext().TraceID().String()
			if connect.CodeOf(err) != tt.code {
				t.Fatalf("code = %v, want %v", connect.CodeOf(err), tt.code)
			}
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Meta().Get(TraceHeader) != want {
				t.Errorf("error header %s = %q, want %q", TraceHeader, cerr.Meta().Get(TraceHeader), want)
			}
			if got := TraceID(err); got != want {
				t.Errorf("TraceID(err) = %q, want %q", got, want)
			}
			if got := FieldViolations(err); strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("field violations = %v, want %v", got, tt.fields)
			}
			if n := len(cerr.Details()); n != 1+len(tt.fields[:min(len(tt.fields), 1)]) {
				t.Errorf("%d details, want the trace id's and the field errors' only: %v", n, cerr.Details())
			}
			if tt.code == connect.CodeInternal && (!strings.Contains(cerr.Message(), want) || strings.Contains(cerr.Message(), "10.0.0.7")) {
				t.Errorf("internal error message %q: want the trace id and not the cause", cerr.Message())
			}
		})
	}
	if n := len(shared.Details()); n != 0 || shared.Meta().Get(TraceHeader) != "" {
		t.Errorf("the handler's shared error value was changed: %d details, meta %v", n, shared.Meta())
	}
	// Plain HTTP clients see the header too.
	req, _ := http.NewRequest(http.MethodPost, r.url+getProcedure, strings.NewReader(`{"id":"gone"}`))
	req.Header.Set("Content-Type", "application/json")
	raw, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw.Body.Close()
	if raw.StatusCode != http.StatusNotFound || raw.Header.Get(TraceHeader) == "" {
		t.Errorf("JSON error answer = %d with %s %q", raw.StatusCode, TraceHeader, raw.Header.Get(TraceHeader))
	}
}

func TestCallsAreMeasuredByProcedureAndCode(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, id := range []string{"m1", "m2", "bad", "broken"} {
		_, _ = r.client.CallUnary(ctx, connect.NewRequest(&membersv1.GetMemberRequest{Id: id}))
	}
	got := telemetrytest.Scrape(t, r.metrics)
	const name = "rpc_server_call_duration_seconds_count"
	method := []string{"rpc_system_name", "connectrpc", "rpc_method", "kinship.test.v1.TestService/Get", "service_name", "kinship-test"}
	tests := []struct {
		code, errorType string
		want            float64
	}{
		{"ok", "", 2},
		{"invalid_argument", "", 1}, // the caller's mistake, not a server fault
		{"internal", "internal", 1},
	}
	for _, tt := range tests {
		labels := append([]string{"rpc_response_status_code", tt.code, "error_type", tt.errorType}, method...)
		if n := got.Sum(name, labels...); n != tt.want {
			t.Errorf("%s%v = %v, want %v\n%s", name, labels, n, tt.want, got)
		}
	}
	// The caller measures its side with its own component's meter.
	caller := telemetrytest.Scrape(t, telemetry.MetricsHandler(r.tel.MeterProvider("kinship-caller")))
	if n := caller.Sum("rpc_client_call_duration_seconds_count", "rpc_response_status_code", "ok", "service_name", "kinship-caller"); n != 2 {
		t.Errorf("caller's successful calls = %v, want 2\n%s", n, caller)
	}
}

func TestLogRecordsOfACallNameItsTraceAndCommunity(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tests := []struct {
		name, header, community, want string
	}{
		{"the caller's community", "demo", "", "demo"},
		{"a public call's community", "", "climate", "climate"},
		{"free text is no community", "", "ada@example.org", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.logs.Reset()
			req := connect.NewRequest(&membersv1.GetMemberRequest{Id: "m1", Community: tt.community})
			if tt.header != "" {
				req.Header().Set("X-Test-Community", tt.header)
			}
			if _, err := r.client.CallUnary(ctx, req); err != nil {
				t.Fatal(err)
			}
			var rec map[string]any
			if err := json.NewDecoder(io.Reader(r.logs)).Decode(&rec); err != nil {
				t.Fatal(err)
			}
			span := r.serverSpan(t)
			if rec["trace_id"] != span.SpanContext().TraceID().String() || rec["span_id"] != span.SpanContext().SpanID().String() {
				t.Errorf("log record %v lacks the server span's ids", rec)
			}
			got, _ := rec["community"].(string)
			if got != tt.want {
				t.Errorf("community = %q, want %q", got, tt.want)
			}
			if strings.Contains(r.logs.String(), "@") {
				t.Errorf("the log names an address: %s", r.logs.String())
			}
		})
	}
}
