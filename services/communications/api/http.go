package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"strings"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// Routes mounts the plain HTTP endpoints: one-click unsubscribe (RFC 8058)
// and bounce intake.
func (h *Handler) Routes(mux interface {
	Handle(pattern string, handler http.Handler)
}) {
	mux.Handle("GET /unsubscribe", http.HandlerFunc(h.unsubscribePage))
	mux.Handle("POST /unsubscribe", http.HandlerFunc(h.unsubscribePost))
	mux.Handle("POST /bounces", http.HandlerFunc(h.bounce))
}

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body><form method="post" action="/unsubscribe?t={{.}}">
<p>Stop receiving these e-mails?</p><button type="submit">Unsubscribe</button>
</form></body></html>
`))

// unsubscribePage asks before unsubscribing, so link scanners that follow
// GET links do not unsubscribe anyone.
func (h *Handler) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	if _, err := domain.VerifyUnsubscribe(h.opts.UnsubscribeKey, tok, h.now()); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = unsubscribePage.Execute(w, tok)
}

// unsubscribePost is the one-click unsubscribe mail clients call with
// List-Unsubscribe=One-Click, and the page's button.
func (h *Handler) unsubscribePost(w http.ResponseWriter, r *http.Request) {
	t, err := domain.VerifyUnsubscribe(h.opts.UnsubscribeKey, r.URL.Query().Get("t"), h.now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := h.served(t.Community); err != nil {
		http.Error(w, "unknown community", http.StatusBadRequest)
		return
	}
	if err := h.Unsubscribe(r.Context(), t.Community, t.MemberID, t.Purpose, "one-click"); err != nil {
		h.logger.ErrorContext(r.Context(), "unsubscribe failed", "member_id", t.MemberID, "error", err)
		http.Error(w, "could not unsubscribe right now; try again", http.StatusServiceUnavailable)
		return
	}
	h.logger.InfoContext(r.Context(), "member unsubscribed", "community", t.Community, "member_id", t.MemberID, "purpose", t.Purpose)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "You are unsubscribed.\n")
}

// bounceReport is what a mail server or provider posts about a bounce.
type bounceReport struct {
	Community string `json:"community"`
	// MessageID is the Message-ID of the bounced message.
	MessageID string `json:"message_id"`
	Hard      bool   `json:"hard"`
	Reason    string `json:"reason"`
}

// bounce takes a bounce report authenticated with the bounce token: the
// message becomes bounced and, for a hard bounce, its address is
// suppressed.
func (h *Handler) bounce(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || h.opts.BounceToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(h.opts.BounceToken)) != 1 {
		http.Error(w, "bounce reports need the bounce token", http.StatusUnauthorized)
		return
	}
	var rep bounceReport
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&rep); err != nil {
		http.Error(w, "body must be JSON: {community, message_id, hard, reason}", http.StatusBadRequest)
		return
	}
	id, _, _ := strings.Cut(strings.Trim(rep.MessageID, "<>"), "@")
	if err := h.served(rep.Community); err != nil || id == "" {
		http.Error(w, "unknown community or message", http.StatusBadRequest)
		return
	}
	reason := rep.Reason
	if len(reason) > 500 {
		reason = reason[:500]
	}
	_, err := h.store.BounceMessage(r.Context(), rep.Community, id, rep.Hard, reason, func(m domain.Message) ([]kafka.Event, error) {
		e, err := h.events.MessageBounced(m, rep.Hard)
		return []kafka.Event{e}, err
	})
	switch {
	case errors.Is(err, domain.ErrNotFound):
		http.Error(w, "no such message", http.StatusNotFound)
		return
	case errors.Is(err, domain.ErrNotSent):
		http.Error(w, err.Error(), http.StatusConflict)
		return
	case err != nil:
		h.logger.ErrorContext(r.Context(), "bounce not recorded", "message_id", id, "error", err)
		http.Error(w, "could not record the bounce; retry", http.StatusServiceUnavailable)
		return
	}
	h.logger.InfoContext(r.Context(), "bounce recorded", "community", rep.Community, "message_id", id, "hard", rep.Hard)
	w.WriteHeader(http.StatusNoContent)
}
