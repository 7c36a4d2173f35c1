// Package tracestore keeps the most recent spans and the log records made
// inside them in memory — bounded, oldest first out — and serves them: a
// list of traces filtered by service, operation, status and duration, and
// one trace as a waterfall with its spans' attributes and logs, as HTML
// pages and as JSON. The dev stack feeds it every span and log record and
// `kinship trace <id>` prints its traces in the terminal. It is a span
// processor and a slog handler; nothing in production uses it.
package tracestore

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Config bounds the store.
type Config struct {
	// MaxSpans is how many spans are kept; 0 means DefaultMaxSpans.
	MaxSpans int
	// MaxLogs is how many log records are kept; 0 means DefaultMaxLogs.
	MaxLogs int
}

// The default bounds: 100,000 spans fit in well under 200 MB.
const (
	DefaultMaxSpans = 100_000
	DefaultMaxLogs  = 50_000
)

// span is one ended span as kept.
type span struct {
	traceID       trace.TraceID
	spanID        trace.SpanID
	parent        trace.SpanID
	name          string
	service       string
	kind          trace.SpanKind
	status        codes.Code
	statusMessage string
	start, end    int64 // Unix nanoseconds
	attrs         []attribute.KeyValue
	events        []sdktrace.Event
}

// logRecord is one log record made inside a span.
type logRecord struct {
	traceID trace.TraceID
	spanID  trace.SpanID
	at      int64
	level   string
	message string
	attrs   []attribute.KeyValue
}

// Store keeps recent spans and log records. It is safe for concurrent use.
type Store struct {
	mu sync.RWMutex

	spans     []span
	spanSeq   uint64 // spans ever kept; the next goes to slot spanSeq % len
	spanIndex map[trace.TraceID][]uint64

	logs     []logRecord
	logSeq   uint64
	logIndex map[trace.TraceID][]uint64

	// names interns span names, services and attribute keys: they repeat.
	names    map[string]string
	services map[*resource.Resource]string
}

// New returns an empty store.
func New(cfg Config) *Store {
	if cfg.MaxSpans <= 0 {
		cfg.MaxSpans = DefaultMaxSpans
	}
	if cfg.MaxLogs <= 0 {
		cfg.MaxLogs = DefaultMaxLogs
	}
	return &Store{
		spans:     make([]span, cfg.MaxSpans),
		spanIndex: map[trace.TraceID][]uint64{},
		logs:      make([]logRecord, cfg.MaxLogs),
		logIndex:  map[trace.TraceID][]uint64{},
		names:     map[string]string{},
		services:  map[*resource.Resource]string{},
	}
}

var _ sdktrace.SpanProcessor = (*Store)(nil)

// OnStart does nothing: spans are kept when they end.
func (s *Store) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd keeps s, pushing out the oldest span when the store is full.
func (s *Store) OnEnd(ro sdktrace.ReadOnlySpan) {
	sc := ro.SpanContext()
	if !sc.IsValid() {
		return
	}
	attrs := ro.Attributes()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range attrs {
		attrs[i].Key = attribute.Key(s.intern(string(attrs[i].Key)))
	}
	sp := span{
		traceID: sc.TraceID(), spanID: sc.SpanID(), parent: ro.Parent().SpanID(),
		name: s.intern(ro.Name()), service: s.serviceOf(ro.Resource()), kind: ro.SpanKind(),
		status: ro.Status().Code, statusMessage: ro.Status().Description,
		start: ro.StartTime().UnixNano(), end: ro.EndTime().UnixNano(),
		attrs: attrs, events: ro.Events(),
	}
	slot := s.spanSeq % uint64(len(s.spans))
	if s.spanSeq >= uint64(len(s.spans)) {
		evict(s.spanIndex, s.spans[slot].traceID, s.spanSeq-uint64(len(s.spans)))
	}
	s.spans[slot] = sp
	s.spanIndex[sp.traceID] = append(s.spanIndex[sp.traceID], s.spanSeq)
	s.spanSeq++
}

// evict drops seq, the oldest entry of the store, from id's index.
func evict(index map[trace.TraceID][]uint64, id trace.TraceID, seq uint64) {
	seqs := index[id]
	if len(seqs) > 0 && seqs[0] == seq {
		seqs = seqs[1:]
	}
	if len(seqs) == 0 {
		delete(index, id)
		return
	}
	index[id] = seqs
}

// Shutdown does nothing: the store lives as long as the process.
func (s *Store) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing: spans are kept as they end.
func (s *Store) ForceFlush(context.Context) error { return nil }

// addLog keeps one log record of a span.
func (s *Store) addLog(rec logRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range rec.attrs {
		rec.attrs[i].Key = attribute.Key(s.intern(string(rec.attrs[i].Key)))
	}
	slot := s.logSeq % uint64(len(s.logs))
	if s.logSeq >= uint64(len(s.logs)) {
		evict(s.logIndex, s.logs[slot].traceID, s.logSeq-uint64(len(s.logs)))
	}
	s.logs[slot] = rec
	s.logIndex[rec.traceID] = append(s.logIndex[rec.traceID], s.logSeq)
	s.logSeq++
}

// maxInterned bounds the interned strings, should some name be unbounded.
const maxInterned = 10_000

func (s *Store) intern(v string) string {
	if got, ok := s.names[v]; ok {
		return got
	}
	if len(s.names) < maxInterned {
		v = strings.Clone(v)
		s.names[v] = v
	}
	return v
}

func (s *Store) serviceOf(res *resource.Resource) string {
	if name, ok := s.services[res]; ok {
		return name
	}
	name := "unknown"
	if v, ok := res.Set().Value(semconv.ServiceNameKey); ok {
		name = v.AsString()
	}
	if len(s.services) < maxInterned {
		s.services[res] = name
	}
	return name
}

// Len returns how many spans and log records the store holds.
func (s *Store) Len() (spans, logs int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int(min(s.spanSeq, uint64(len(s.spans)))), int(min(s.logSeq, uint64(len(s.logs))))
}

// spansOf returns the kept spans of id, oldest first. The caller holds mu.
func (s *Store) spansOf(id trace.TraceID) []span {
	seqs := s.spanIndex[id]
	out := make([]span, 0, len(seqs))
	for _, seq := range seqs {
		out = append(out, s.spans[seq%uint64(len(s.spans))])
	}
	return out
}

// logsOf returns the kept log records of id, oldest first. The caller
// holds mu.
func (s *Store) logsOf(id trace.TraceID) []logRecord {
	seqs := s.logIndex[id]
	out := make([]logRecord, 0, len(seqs))
	for _, seq := range seqs {
		out = append(out, s.logs[seq%uint64(len(s.logs))])
	}
	return out
}

func duration(start, end int64) time.Duration { return time.Duration(end - start) }
