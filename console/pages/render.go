package pages

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kinshiphq/kinship/console/session"
	eventsv1 "github.com/kinshiphq/kinship/gen/kinship/events/v1"
)

//go:embed templates/*.html
var templateFiles embed.FS

// View is what every page template is given.
type View struct {
	Title     string
	Nav       string // the section, for aria-current
	Session   session.Session
	Community string
	Notice    string
	Problem   string
	Data      any
}

// Can reports whether the signed-in person holds one of roles (platform
// admins hold all).
func (v View) Can(roles ...string) bool { return allowed(v.Session, roles) }

// SignedIn reports whether a person is signed in.
func (v View) SignedIn() bool { return v.Session.Subject != "" }

func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":  s.assets.URL,
		"when":   when,
		"date":   dateOf,
		"pct":    func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"mulPct": func(f float64) float64 { return math.Max(0, math.Min(100, f*100)) },
		"num":    func(f float64) string { return trimFloat(f) },
		"mval":   formatValue,
		"mnum": func(v float64, unit string) string {
			if unit == "ratio" || unit == "share" || unit == "%" {
				return formatValue(v, unit)
			}
			return trimFloat(v)
		},
		"join": strings.Join,
		"add":  func(a, b int) int { return a + b },
		"fld":  fld,
		"first": func(occs []*eventsv1.Occurrence) *eventsv1.Occurrence {
			if len(occs) == 0 {
				return &eventsv1.Occurrence{}
			}
			return occs[0]
		},
		"money": money,
		"minutesToHours": func(m int64) string {
			return trimFloat(float64(m) / 60)
		},
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
		"contains": func(list []string, v string) bool {
			for _, x := range list {
				if x == v {
					return true
				}
			}
			return false
		},
	}
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func money(minor int64, currency string) string {
	return fmt.Sprintf("%s %.2f", currency, float64(minor)/100)
}

// when formats a timestamp for people, in UTC; empty when unset.
func when(t any) string {
	switch v := t.(type) {
	case *timestamppb.Timestamp:
		if v == nil || (v.GetSeconds() == 0 && v.GetNanos() == 0) {
			return ""
		}
		return v.AsTime().UTC().Format("2 Jan 2006 15:04 UTC")
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format("2 Jan 2006 15:04 UTC")
	}
	return ""
}

func dateOf(t *timestamppb.Timestamp) string {
	if t == nil || (t.GetSeconds() == 0 && t.GetNanos() == 0) {
		return ""
	}
	return t.AsTime().UTC().Format("2006-01-02")
}

// parseViews parses every page with the layout and the shared parts.
func (s *Server) parseViews() (map[string]*template.Template, error) {
	base, err := template.New("base").Funcs(s.funcs()).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	views := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		views[name] = t
	}
	return views, nil
}

// notices are the messages a redirect may ask a page to show; the query
// names one, so no text a user typed is ever reflected.
var notices = map[string]string{
	"member-created":         "The member was added.",
	"goal-saved":             "The goal was saved.",
	"goal-archived":          "The goal was archived.",
	"profile-saved":          "The profile was saved.",
	"role-changed":           "The roles were changed.",
	"consent-recorded":       "The consent was recorded.",
	"segment-saved":          "The segment was saved.",
	"segment-deleted":        "The segment was deleted.",
	"event-created":          "The event was created as a draft. Publish it when it is ready.",
	"event-saved":            "The event was saved.",
	"event-published":        "The event was published.",
	"event-cancelled":        "The event was cancelled.",
	"template-saved":         "The template was saved.",
	"template-deleted":       "The template was deleted.",
	"announcement-queued":    "The announcement was queued.",
	"announcement-cancelled": "The announcement was cancelled: nothing more of it will be sent.",
	"webhook-deleted":        "The webhook was deleted.",
	"suppression-removed":    "The address may receive mail again.",
	"partner-created":        "The partner was added.",
	"partner-saved":          "The partner was saved.",
	"contact-added":          "The contact was added.",
	"agreement-created":      "The agreement was created.",
	"contribution-added":     "The contribution was recorded.",
	"settings-saved":         "The community's settings were saved. Levels follow new weights and thresholds at the next review.",
	"key-revoked":            "The API key was revoked; it stops working everywhere within 30 seconds.",
	"signal-sent":            "The journey was told.",
	"nominated":              "The nomination was made.",
	"reviewed":               "The review was recorded.",
	"preferences-saved":      "Your e-mail preferences were saved.",
	"rsvp-saved":             "Your answer was saved.",
	"feed-rotated":           "Your calendar address was replaced; the old one no longer works.",
}

// render writes a whole page (or, for an htmx request that asks for a
// fragment, the named block alone).
func (s *Server) render(w http.ResponseWriter, r *http.Request, c *call, status int, page, title, nav string, data any) {
	v := View{Title: title, Nav: nav, Community: s.opts.Community, Data: data, Notice: notices[r.URL.Query().Get("notice")]}
	if c != nil {
		v.Session = c.ss
	}
	s.execute(w, r, status, page, "layout", v)
}

// fragment writes one named template of a page, for htmx swaps.
func (s *Server) fragment(w http.ResponseWriter, r *http.Request, c *call, page, block string, data any) {
	v := View{Community: s.opts.Community, Data: data}
	if c != nil {
		v.Session = c.ss
	}
	s.execute(w, r, http.StatusOK, page, block, v)
}

func (s *Server) execute(w http.ResponseWriter, r *http.Request, status int, page, block string, v View) {
	t, ok := s.views[page]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, v); err != nil {
		s.opts.Logger.ErrorContext(r.Context(), "console: page failed", "page", page, "error", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// renderPublic writes a page for someone who may not be signed in.
func (s *Server) renderPublic(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) {
	var c *call
	if ss, err := s.currentSession(r); err == nil {
		c = &call{ss: ss}
	}
	s.render(w, r, c, status, page, title, "", data)
}

// problem writes a page that says what went wrong.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, c *call, status int, msg string) {
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `<p class="alert" role="alert">%s</p>`, template.HTMLEscapeString(msg))
		return
	}
	s.render(w, r, c, status, "problem", "Something went wrong", "", map[string]string{"Message": msg})
}

func (s *Server) plainProblem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, nil, status, "problem", "Something went wrong", "", map[string]string{"Message": msg})
}
