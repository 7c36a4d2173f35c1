package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/services/communications/domain"
)

// Routes mounts the plain HTTP endpoints: one-click unsubscribe (RFC
// 8058), address confirmation (double opt-in) and bounce intake. They
// take no credentials: a signed link or a community's bounce token is
// the proof.
func (h *Handler) Routes(mux interface {
	Handle(pattern string, handler http.Handler)
}) {
	mux.Handle("GET /unsubscribe", http.HandlerFunc(h.unsubscribePage))
	mux.Handle("POST /unsubscribe", http.HandlerFunc(h.unsubscribePost))
	mux.Handle("GET /confirm", http.HandlerFunc(h.confirmPage))
	mux.Handle("POST /confirm", http.HandlerFunc(h.confirmPost))
	mux.Handle("POST /bounces", http.HandlerFunc(h.bounce))
}

// page is the frame of the few pages a member sees.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title></head>
<body><main>{{if .Action}}<form method="post" action="{{.Action}}">
<p>{{.Text}}</p><button type="submit">{{.Button}}</button>
</form>{{else}}<p>{{.Text}}</p>{{end}}</main></body></html>
`))

type pageData struct {
	Title, Text, Action, Button string
}

func (h *Handler) show(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the link is a credential
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	w.WriteHeader(status)
	_ = page.Execute(w, d)
}

// unsubscribePage asks before unsubscribing, so link scanners that follow
// GET links do not unsubscribe anyone.
func (h *Handler) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	if _, err := domain.VerifyUnsubscribe(h.opts.UnsubscribeKey, tok, h.now()); err != nil {
		h.show(w, http.StatusBadRequest, pageData{Title: "Unsubscribe", Text: err.Error()})
		return
	}
	h.show(w, http.StatusOK, pageData{Title: "Unsubscribe", Text: "Stop receiving these e-mails?", Action: "/unsubscribe?t=" + tok, Button: "Unsubscribe"})
}

// unsubscribePost is the one-click unsubscribe mail clients call with
// List-Unsubscribe=One-Click, and the page's button. Clicking again
// changes nothing and publishes nothing.
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
	ctx := r.Context()
	changed, err := h.Unsubscribe(ctx, t.Community, t.MemberID, []string{t.Purpose}, "one-click", func(tx *sql.Tx) error {
		return h.audit.RecordAnonymous(ctx, tx, t.Community, "consent.withdrawn", "member", t.MemberID)
	})
	if err != nil {
		h.logger.ErrorContext(ctx, "unsubscribe failed", "member_id", t.MemberID, "error", err)
		http.Error(w, "could not unsubscribe right now; try again", http.StatusServiceUnavailable)
		return
	}
	if changed {
		h.logger.InfoContext(ctx, "member unsubscribed", "community", t.Community, "member_id", t.MemberID, "purpose", t.Purpose)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "You are unsubscribed.\n")
}

// confirmPage asks the member to press a button: a GET alone (a link
// scanner, a preview) confirms nothing.
func (h *Handler) confirmPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	if _, err := h.confirmation(r.Context(), tok); err != nil {
		h.confirmFailed(w, r, err)
		return
	}
	h.show(w, http.StatusOK, pageData{Title: "Confirm your address", Text: "Confirm that this is your e-mail address?",
		Action: "/confirm?t=" + tok, Button: "Confirm my address"})
}

// confirmPost checks the link and asks the members service, as a
// workload, to confirm the address.
func (h *Handler) confirmPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := h.confirmation(ctx, r.URL.Query().Get("t"))
	if err != nil {
		h.confirmFailed(w, r, err)
		return
	}
	if err := h.opts.Members.ConfirmEmail(ctx, c.token.Community, c.token.MemberID, c.address); err != nil {
		h.confirmFailed(w, r, err)
		return
	}
	if err := h.store.DB().InTx(ctx, func(tx *sql.Tx) error {
		return h.audit.RecordAnonymous(ctx, tx, c.token.Community, "email.confirmed", "member", c.token.MemberID)
	}); err != nil {
		h.logger.ErrorContext(ctx, "confirmation not audited", "member_id", c.token.MemberID, "error", err)
	}
	h.logger.InfoContext(ctx, "address confirmed", "community", c.token.Community, "member_id", c.token.MemberID, "reason", c.token.Reason)
	h.show(w, http.StatusOK, pageData{Title: "Address confirmed", Text: "Thank you: your address is confirmed."})
}

// confirmed is a checked confirmation link and the address it confirms.
type confirmed struct {
	token   domain.ConfirmToken
	address string
}

// confirmation checks a confirmation token and finds the address it was
// sent to in the delivery log of its community: the message must be the
// confirmation sent to that member, to the address whose hash the token
// holds.
func (h *Handler) confirmation(ctx context.Context, raw string) (confirmed, error) {
	t, err := domain.VerifyConfirm(h.opts.UnsubscribeKey, raw, h.now())
	if err != nil {
		return confirmed{}, err
	}
	if h.served(t.Community) != nil {
		return confirmed{}, domain.ErrBadConfirmToken
	}
	m, err := h.store.GetMessage(ctx, t.Community, t.MessageID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return confirmed{}, domain.ErrBadConfirmToken
	case err != nil:
		return confirmed{}, err
	case m.Kind != domain.KindConfirmation || m.MemberID != t.MemberID || m.To == "" || domain.HashAddress(m.To) != t.AddressHash:
		// Erased since, or not this link's message.
		return confirmed{}, domain.ErrBadConfirmToken
	}
	return confirmed{token: t, address: m.To}, nil
}

func (h *Handler) confirmFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, domain.ErrBadConfirmToken):
		h.show(w, http.StatusBadRequest, pageData{Title: "Confirm your address", Text: "This confirmation link is invalid or has expired."})
	case errors.Is(err, domain.ErrStaleConfirmation):
		h.show(w, http.StatusConflict, pageData{Title: "Confirm your address",
			Text: "This link no longer applies: the address it confirms is not waiting for confirmation any more."})
	default:
		h.logger.ErrorContext(r.Context(), "confirmation failed", "error", err)
		h.show(w, http.StatusServiceUnavailable, pageData{Title: "Confirm your address", Text: "We could not confirm your address right now; please try again."})
	}
}

// bounceReport is what a mail server or provider posts about a bounce.
type bounceReport struct {
	Community string `json:"community"`
	// MessageID is the Message-ID of the bounced message.
	MessageID string `json:"message_id"`
	Hard      bool   `json:"hard"`
	Reason    string `json:"reason"`
}

// maxBounceReason bounds the reason kept in the delivery log.
const maxBounceReason = 500

// bounce takes a bounce report authenticated with its community's bounce
// token: the message becomes bounced and, for a hard bounce, its address
// is suppressed. A token is good for its own community only, and an
// unknown community is answered like a wrong token.
func (h *Handler) bounce(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || len(h.opts.BounceSecret) == 0 {
		http.Error(w, "bounce reports need the community's bounce token", http.StatusUnauthorized)
		return
	}
	var rep bounceReport
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&rep); err != nil {
		http.Error(w, "body must be JSON: {community, message_id, hard, reason}", http.StatusBadRequest)
		return
	}
	if h.served(rep.Community) != nil || !domain.CheckBounceToken(h.opts.BounceSecret, rep.Community, token) {
		http.Error(w, "bounce reports need the community's bounce token", http.StatusUnauthorized)
		return
	}
	id, _, _ := strings.Cut(strings.Trim(strings.TrimSpace(rep.MessageID), "<>"), "@")
	if id == "" || len(id) > 64 || !utf8.ValidString(id) {
		http.Error(w, "message_id is not a Message-ID this service sent", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	_, err := h.store.BounceMessage(ctx, rep.Community, id, rep.Hard, cleanReason(rep.Reason), func(m domain.Message) ([]kafka.Event, error) {
		e, err := h.events.MessageBounced(m, rep.Hard)
		return []kafka.Event{e}, err
	}, func(tx *sql.Tx) error {
		return h.audit.RecordAnonymous(ctx, tx, rep.Community, "message.bounced", "message", id)
	})
	switch {
	case errors.Is(err, domain.ErrNotFound):
		http.Error(w, "no such message", http.StatusNotFound)
		return
	case errors.Is(err, domain.ErrNotSent):
		http.Error(w, err.Error(), http.StatusConflict)
		return
	case err != nil:
		h.logger.ErrorContext(ctx, "bounce not recorded", "message_id", id, "error", err)
		http.Error(w, "could not record the bounce; retry", http.StatusServiceUnavailable)
		return
	}
	h.logger.InfoContext(ctx, "bounce recorded", "community", rep.Community, "message_id", id, "hard", rep.Hard)
	w.WriteHeader(http.StatusNoContent)
}

// cleanReason keeps a bounce reason printable, valid UTF-8 and short.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if utf8.RuneCountInString(s) > maxBounceReason {
		s = string([]rune(s)[:maxBounceReason])
	}
	return strings.TrimSpace(s)
}
