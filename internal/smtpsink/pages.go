package smtpsink

import (
	"embed"
	"html/template"
	"net/http"
	"slices"
)

//go:embed templates/*.html
var templates embed.FS

// pages are the sink's HTML pages: the messages it holds, newest first,
// and one message with its text, its HTML (in a sandbox: no script, no
// remote image, no form) and the headers kept.
type pages struct {
	sink *Sink
	tmpl *template.Template
}

func newPages(s *Sink) *pages {
	return &pages{sink: s, tmpl: template.Must(template.ParseFS(templates, "templates/*.html"))}
}

func (p *pages) list(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	msgs := p.sink.Messages(to)
	slices.Reverse(msgs)
	p.render(w, http.StatusOK, "list.html", map[string]any{"To": to, "Messages": msgs})
}

func (p *pages) message(w http.ResponseWriter, r *http.Request) {
	m, ok := p.sink.message(r.PathValue("id"))
	if !ok {
		p.render(w, http.StatusNotFound, "list.html", map[string]any{"Missing": r.PathValue("id")})
		return
	}
	p.render(w, http.StatusOK, "message.html", m)
}

func (p *pages) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// A message's HTML is shown in a sandboxed frame that inherits this
	// policy: no script anywhere, nothing fetched from elsewhere.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = p.tmpl.ExecuteTemplate(w, name, data)
}

// message returns the message id.
func (s *Sink) message(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}
