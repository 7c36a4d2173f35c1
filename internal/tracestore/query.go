package tracestore

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/internal/telemetry"
	"github.com/kinshiphq/kinship/internal/temporalweb"
)

// Summary is one trace in a list.
type Summary struct {
	TraceID string `json:"trace_id"`
	// Root names the trace's first span: its operation and service.
	Root      string    `json:"root"`
	Service   string    `json:"service"`
	Community string    `json:"community,omitempty"`
	Start     time.Time `json:"start"`
	// DurationMS is from the first span's start to the last one's end.
	DurationMS float64  `json:"duration_ms"`
	SpanCount  int      `json:"span_count"`
	Errors     int      `json:"errors"`
	Services   []string `json:"services"`
}

// Trace is one trace with its spans in waterfall order (each span after
// its parent, siblings by start) and their log records.
type Trace struct {
	Summary
	Spans []Span `json:"spans"`
}

// Span is one span of a Trace.
type Span struct {
	SpanID   string `json:"span_id"`
	ParentID string `json:"parent_id,omitempty"`
	Name     string `json:"name"`
	Service  string `json:"service"`
	Kind     string `json:"kind"`
	// Status is "ok", "error" or "unset".
	Status        string  `json:"status"`
	StatusMessage string  `json:"status_message,omitempty"`
	Depth         int     `json:"depth"`
	OffsetMS      float64 `json:"offset_ms"`
	DurationMS    float64 `json:"duration_ms"`
	// Attributes in the order they were set.
	Attributes []Attribute `json:"attributes,omitempty"`
	Events     []Event     `json:"events,omitempty"`
	Logs       []Log       `json:"logs,omitempty"`
	// WorkflowURL opens the workflow the span ran or started in the
	// Temporal Web UI.
	WorkflowURL string `json:"workflow_url,omitempty"`
}

// Attribute is one key and its value as text.
type Attribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Event is one span event, such as a recorded error.
type Event struct {
	Name       string      `json:"name"`
	OffsetMS   float64     `json:"offset_ms"`
	Attributes []Attribute `json:"attributes,omitempty"`
}

// Log is one log record made inside a span.
type Log struct {
	Time       time.Time   `json:"time"`
	Level      string      `json:"level"`
	Message    string      `json:"message"`
	Attributes []Attribute `json:"attributes,omitempty"`
}

// Filter selects traces: every field set must hold.
type Filter struct {
	// Service: a span of the trace is of this service.
	Service string
	// Operation: a span's name contains this text (any case).
	Operation string
	// Status "error": a span failed; "ok": none did.
	Status string
	// MinDuration and MaxDuration bound the trace's duration; 0 is no bound.
	MinDuration, MaxDuration time.Duration
	// Limit is the most traces listed, newest first; 0 means 50.
	Limit int
}

// ErrBadFilter means a filter value is not understood.
var ErrBadFilter = errors.New("bad filter")

// ParseFilter reads a Filter from a query string: service, operation,
// status (ok, error), min_duration and max_duration (Go durations such as
// 250ms), limit.
func ParseFilter(q url.Values) (Filter, error) {
	f := Filter{Service: q.Get("service"), Operation: q.Get("operation"), Status: q.Get("status")}
	if f.Status != "" && f.Status != "ok" && f.Status != "error" {
		return f, fmt.Errorf("%w: status is %q; want ok or error", ErrBadFilter, f.Status)
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{"min_duration", &f.MinDuration}, {"max_duration", &f.MaxDuration}} {
		raw := q.Get(d.name)
		if raw == "" {
			continue
		}
		v, err := time.ParseDuration(raw)
		if err != nil || v < 0 {
			return f, fmt.Errorf("%w: %s is %q; want a duration such as 250ms or 2s", ErrBadFilter, d.name, raw)
		}
		*d.to = v
	}
	if raw := q.Get("limit"); raw != "" {
		var n int
		if _, err := fmt.Sscan(raw, &n); err != nil || n < 1 || n > 1000 {
			return f, fmt.Errorf("%w: limit is %q; want 1 to 1000", ErrBadFilter, raw)
		}
		f.Limit = n
	}
	return f, nil
}

// Traces lists the kept traces that match f, newest first.
func (s *Store) Traces(f Filter) []Summary {
	if f.Limit == 0 {
		f.Limit = 50
	}
	s.mu.RLock()
	candidates := make([]Summary, 0, len(s.spanIndex))
	for id := range s.spanIndex {
		spans := s.spansOf(id)
		if !matches(spans, f) {
			continue
		}
		candidates = append(candidates, summarise(id, spans))
	}
	s.mu.RUnlock()
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].Start.After(candidates[j].Start) })
	return candidates[:min(len(candidates), f.Limit)]
}

func matches(spans []span, f Filter) bool {
	first, last := spans[0].start, spans[0].end
	service, operation, failed := f.Service == "", f.Operation == "", false
	op := strings.ToLower(f.Operation)
	for _, sp := range spans {
		first, last = min(first, sp.start), max(last, sp.end)
		service = service || sp.service == f.Service
		operation = operation || strings.Contains(strings.ToLower(sp.name), op)
		failed = failed || sp.status == codes.Error
	}
	d := duration(first, last)
	switch {
	case !service, !operation:
		return false
	case f.Status == "error" && !failed, f.Status == "ok" && failed:
		return false
	case f.MinDuration > 0 && d < f.MinDuration, f.MaxDuration > 0 && d > f.MaxDuration:
		return false
	}
	return true
}

func summarise(id trace.TraceID, spans []span) Summary {
	present := map[trace.SpanID]bool{}
	for _, sp := range spans {
		present[sp.spanID] = true
	}
	// The root is the earliest span without a kept parent.
	root := -1
	for i, sp := range spans {
		if !present[sp.parent] && (root < 0 || sp.start < spans[root].start) {
			root = i
		}
	}
	root = max(root, 0)
	first, last := spans[0].start, spans[0].end
	sum := Summary{TraceID: id.String(), SpanCount: len(spans)}
	for _, sp := range spans {
		first, last = min(first, sp.start), max(last, sp.end)
		if sp.status == codes.Error {
			sum.Errors++
		}
		if !slices.Contains(sum.Services, sp.service) {
			sum.Services = append(sum.Services, sp.service)
		}
		if sum.Community == "" {
			sum.Community = attr(sp.attrs, telemetry.AttrCommunity)
		}
	}
	sort.Strings(sum.Services)
	sum.Root, sum.Service = spans[root].name, spans[root].service
	sum.Start = time.Unix(0, first)
	sum.DurationMS = ms(duration(first, last))
	return sum
}

// Trace returns the trace id in waterfall order with its logs;
// temporalUI, when set, is the Temporal Web UI the spans of workflows
// link to. It reports false when the store holds no span of it.
func (s *Store) Trace(id trace.TraceID, temporalUI string) (Trace, bool) {
	s.mu.RLock()
	spans := s.spansOf(id)
	logs := s.logsOf(id)
	s.mu.RUnlock()
	if len(spans) == 0 {
		return Trace{}, false
	}
	t := Trace{Summary: summarise(id, spans)}
	first := t.Start.UnixNano()
	logsBySpan := map[trace.SpanID][]Log{}
	for _, l := range logs {
		logsBySpan[l.spanID] = append(logsBySpan[l.spanID], Log{Time: time.Unix(0, l.at), Level: l.level, Message: l.message, Attributes: texts(l.attrs)})
	}
	for _, sp := range waterfall(spans) {
		out := Span{
			SpanID: sp.span.spanID.String(), Name: sp.span.name, Service: sp.span.service, Kind: kindName(sp.span.kind),
			Status: statusName(sp.span.status), StatusMessage: sp.span.statusMessage, Depth: sp.depth,
			OffsetMS: ms(duration(first, sp.span.start)), DurationMS: ms(duration(sp.span.start, sp.span.end)),
			Attributes: texts(sp.span.attrs), Logs: logsBySpan[sp.span.spanID],
		}
		if sp.span.parent.IsValid() {
			out.ParentID = sp.span.parent.String()
		}
		for _, e := range sp.span.events {
			out.Events = append(out.Events, Event{Name: e.Name, OffsetMS: ms(duration(first, e.Time.UnixNano())), Attributes: texts(e.Attributes)})
		}
		out.WorkflowURL = workflowURL(temporalUI, t.Community, sp.span.attrs)
		t.Spans = append(t.Spans, out)
	}
	return t, true
}

type placed struct {
	span  span
	depth int
}

// waterfall orders spans depth first from their roots (spans whose parent
// is not kept), siblings by start.
func waterfall(spans []span) []placed {
	children := map[trace.SpanID][]span{}
	present := map[trace.SpanID]bool{}
	for _, sp := range spans {
		present[sp.spanID] = true
	}
	var roots []span
	for _, sp := range spans {
		if present[sp.parent] {
			children[sp.parent] = append(children[sp.parent], sp)
		} else {
			roots = append(roots, sp)
		}
	}
	byStart := func(list []span) {
		sort.SliceStable(list, func(i, j int) bool { return list[i].start < list[j].start })
	}
	out := make([]placed, 0, len(spans))
	var walk func(sp span, depth int)
	walk = func(sp span, depth int) {
		out = append(out, placed{span: sp, depth: depth})
		kids := children[sp.spanID]
		byStart(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	byStart(roots)
	for _, r := range roots {
		walk(r, 0)
	}
	return out
}

// workflowURL links a span of a Temporal workflow (the SDK's tracing
// interceptor names it with temporalWorkflowID) to the Temporal Web UI at
// ui. Each community is a namespace; workflow ids are
// <kind>/<community>/..., which names it when the trace does not.
func workflowURL(ui, community string, attrs []attribute.KeyValue) string {
	wf := attr(attrs, "temporalWorkflowID")
	if ui == "" || wf == "" {
		return ""
	}
	if c := attr(attrs, telemetry.AttrCommunity); c != "" {
		community = c
	}
	if parts := strings.Split(wf, "/"); community == "" && len(parts) >= 3 {
		community = parts[1]
	}
	if community == "" {
		return ""
	}
	return temporalweb.WorkflowURL(ui, community, wf, attr(attrs, "temporalRunID"))
}

func attr(attrs []attribute.KeyValue, key string) string {
	for _, a := range attrs {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

func texts(attrs []attribute.KeyValue) []Attribute {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]Attribute, len(attrs))
	for i, a := range attrs {
		out[i] = Attribute{Key: string(a.Key), Value: a.Value.String()}
	}
	return out
}

func kindName(k trace.SpanKind) string {
	switch k {
	case trace.SpanKindServer:
		return "server"
	case trace.SpanKindClient:
		return "client"
	case trace.SpanKindProducer:
		return "producer"
	case trace.SpanKindConsumer:
		return "consumer"
	}
	return "internal"
}

func statusName(c codes.Code) string {
	switch c {
	case codes.Error:
		return "error"
	case codes.Ok:
		return "ok"
	}
	return "unset"
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Services lists the services and operations of the kept spans, for the
// list's filters.
func (s *Store) Services() map[string][]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[string]map[string]bool{}
	n := min(s.spanSeq, uint64(len(s.spans)))
	for i := range n {
		sp := s.spans[i]
		if seen[sp.service] == nil {
			seen[sp.service] = map[string]bool{}
		}
		seen[sp.service][sp.name] = true
	}
	out := map[string][]string{}
	for svc, ops := range seen {
		for op := range ops {
			out[svc] = append(out[svc], op)
		}
		sort.Strings(out[svc])
	}
	return out
}

// ParseTraceID reads a trace id: 32 hexadecimal digits, not all zero.
func ParseTraceID(raw string) (trace.TraceID, error) {
	id, err := trace.TraceIDFromHex(strings.ToLower(strings.TrimSpace(raw)))
	if err != nil {
		return id, fmt.Errorf("%q is not a trace id: want 32 hexadecimal digits, as in the X-Trace-Id header of an API answer", raw)
	}
	return id, nil
}
