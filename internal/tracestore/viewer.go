package tracestore

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"time"
)

//go:embed templates/*.html
var templates embed.FS

// ViewerConfig says what the viewer links to.
type ViewerConfig struct {
	// TemporalUI is the Temporal Web UI's base URL; spans of workflows
	// link to their workflow there. Empty links nowhere.
	TemporalUI string
	// Links are shown in the header (name → URL), such as the mail sink.
	Links map[string]string
}

// Handler serves the store:
//
//	GET /                      traces, filtered by the query (ParseFilter)
//	GET /traces/{id}           one trace as a waterfall
//	GET /api/traces            the list as JSON
//	GET /api/traces/{id}       one trace as JSON (404 when not kept)
//	GET /api/services          services and their operations as JSON
func (s *Store) Handler(cfg ViewerConfig) http.Handler {
	pages := template.Must(template.New("").Funcs(template.FuncMap{
		"pct":      func(part, whole float64) float64 { return pct(part, whole) },
		"duration": durationText,
		"clock":    func(t time.Time) string { return t.Format("15:04:05.000") },
		"indent":   func(depth int) float64 { return float64(depth) * 1.1 },
	}).ParseFS(templates, "templates/*.html"))
	v := &viewer{store: s, cfg: cfg, pages: pages}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", v.list)
	mux.HandleFunc("GET /traces/{id}", v.trace)
	mux.HandleFunc("GET /api/traces", v.apiList)
	mux.HandleFunc("GET /api/traces/{id}", v.apiTrace)
	mux.HandleFunc("GET /api/services", v.apiServices)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}

type viewer struct {
	store *Store
	cfg   ViewerConfig
	pages *template.Template
}

type listPage struct {
	Filter    url.Values
	Traces    []Summary
	Services  []string
	Ops       []string
	Error     string
	Kept      int
	Links     map[string]string
	Temporal  string
	Longest   float64
	NoFilters bool
}

func (v *viewer) list(w http.ResponseWriter, r *http.Request) {
	page := listPage{Filter: r.URL.Query(), Links: v.cfg.Links, Temporal: v.cfg.TemporalUI}
	page.Kept, _ = v.store.Len()
	services := v.store.Services()
	ops := map[string]bool{}
	for svc, names := range services {
		page.Services = append(page.Services, svc)
		for _, n := range names {
			ops[n] = true
		}
	}
	for op := range ops {
		page.Ops = append(page.Ops, op)
	}
	sort.Strings(page.Services)
	sort.Strings(page.Ops)
	status := http.StatusOK
	f, err := ParseFilter(r.URL.Query())
	if err != nil {
		status, page.Error = http.StatusBadRequest, err.Error()
	} else {
		page.Traces = v.store.Traces(f)
	}
	for _, t := range page.Traces {
		page.Longest = max(page.Longest, t.DurationMS)
	}
	v.render(w, status, "list.html", page)
}

type tracePage struct {
	Trace    Trace
	ID       string
	Error    string
	Links    map[string]string
	Temporal string
}

func (v *viewer) trace(w http.ResponseWriter, r *http.Request) {
	page := tracePage{ID: r.PathValue("id"), Links: v.cfg.Links, Temporal: v.cfg.TemporalUI}
	t, status, err := v.find(page.ID)
	if err != nil {
		page.Error = err.Error()
	}
	page.Trace = t
	v.render(w, status, "trace.html", page)
}

// find looks a trace up by the id in a URL.
func (v *viewer) find(raw string) (Trace, int, error) {
	id, err := ParseTraceID(raw)
	if err != nil {
		return Trace{}, http.StatusBadRequest, err
	}
	t, ok := v.store.Trace(id, v.cfg.TemporalUI)
	if !ok {
		spans, _ := v.store.Len()
		return Trace{}, http.StatusNotFound, fmt.Errorf("no trace %s here: the viewer keeps the last %d spans, so it was pushed out or never reached this process", id, spans)
	}
	return t, http.StatusOK, nil
}

func (v *viewer) apiList(w http.ResponseWriter, r *http.Request) {
	f, err := ParseFilter(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"traces": v.store.Traces(f)})
}

func (v *viewer) apiTrace(w http.ResponseWriter, r *http.Request) {
	t, status, err := v.find(r.PathValue("id"))
	if err != nil {
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (v *viewer) apiServices(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"services": v.store.Services()})
}

func (v *viewer) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The pages need no script; inline styles place the waterfall's bars.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := v.pages.ExecuteTemplate(w, name, data); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		_, _ = fmt.Fprintf(w, "<p>the page failed: %s</p>", template.HTMLEscapeString(err.Error()))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func pct(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return min(100, max(0, 100*part/whole))
}

// durationText shows milliseconds as a person reads them.
func durationText(msecs float64) string {
	switch {
	case msecs < 1:
		return fmt.Sprintf("%.0f µs", msecs*1000)
	case msecs < 1000:
		return fmt.Sprintf("%.1f ms", msecs)
	case msecs < 60_000:
		return fmt.Sprintf("%.2f s", msecs/1000)
	}
	return (time.Duration(msecs) * time.Millisecond).Round(time.Second).String()
}
