package pages

import (
	"errors"
	"net/http"
	"time"

	"github.com/kinshiphq/kinship/console/signin"
)

// signIn starts the OpenID Connect flow: a login record (state, nonce,
// PKCE verifier) bound to this browser by a short-lived cookie, then off to
// the issuer.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	returnTo := safeReturn(r.URL.Query().Get("return"))
	target, login, err := s.signin.Begin(r.Context(), returnTo, r.URL.Query().Get("login_hint"))
	if err != nil {
		s.opts.Logger.ErrorContext(r.Context(), "console: sign-in could not start", "error", err)
		s.plainProblem(w, r, http.StatusBadGateway, "The sign-in service cannot be reached right now. Try again in a minute.")
		return
	}
	id := s.store.StartLogin(login)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: id, Path: "/auth/", MaxAge: 600,
		HttpOnly: true, Secure: !s.opts.InsecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, target, http.StatusFound)
}

// callback finishes the flow and creates the session.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCookie)
	if err != nil {
		s.plainProblem(w, r, http.StatusBadRequest, "This sign-in did not start in this browser, or took too long. Start again from the console.")
		return
	}
	login, err := s.store.FinishLogin(c.Value)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/auth/", MaxAge: -1,
		HttpOnly: true, Secure: !s.opts.InsecureCookies, SameSite: http.SameSiteLaxMode})
	if err != nil {
		s.plainProblem(w, r, http.StatusBadRequest, "This sign-in did not start in this browser, or took too long. Start again from the console.")
		return
	}
	ss, expiry, err := s.signin.Finish(r.Context(), login, r.URL.Query())
	if err != nil {
		s.opts.Logger.WarnContext(r.Context(), "console: sign-in refused", "error", err)
		msg := "The sign-in could not be completed. Start again from the console."
		switch {
		case errors.Is(err, signin.ErrCommunity):
			msg = "This account belongs to another community than this console's."
		case errors.Is(err, signin.ErrNoRole):
			msg = "This account holds no role in the community."
		}
		s.plainProblem(w, r, http.StatusForbidden, msg)
		return
	}
	id, ss, err := s.store.Create(ss, expiry)
	if err != nil {
		s.opts.Logger.ErrorContext(r.Context(), "console: session not kept", "error", err)
	}
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: id, Path: "/", Expires: ss.Expires,
		HttpOnly: true, Secure: !s.opts.InsecureCookies, SameSite: http.SameSiteLaxMode})
	s.opts.Logger.InfoContext(r.Context(), "console: signed in", "subject", ss.Subject)
	http.Redirect(w, r, safeReturn(login.ReturnTo), http.StatusSeeOther)
}

// signOut ends the session (a POST with the CSRF token, so no other site
// can sign a person out).
func (s *Server) signOut(w http.ResponseWriter, r *http.Request, _ *call) {
	if c, err := r.Cookie(s.sessionCookieName()); err == nil {
		_ = s.store.Delete(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0),
		HttpOnly: true, Secure: !s.opts.InsecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
}

func (s *Server) signedOut(w http.ResponseWriter, r *http.Request) {
	s.renderPublic(w, r, http.StatusOK, "signedout", "Signed out", nil)
}

// home sends each person to where their role starts.
func (s *Server) home(w http.ResponseWriter, r *http.Request, c *call) {
	if allowed(c.ss, team) {
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/me", http.StatusSeeOther)
}
