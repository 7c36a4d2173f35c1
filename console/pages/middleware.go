package pages

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kinshiphq/kinship/console/apis"
	"github.com/kinshiphq/kinship/console/session"
)

// handler serves one page for a signed-in person.
type handler func(w http.ResponseWriter, r *http.Request, c *call)

// call is one request of a signed-in person.
type call struct {
	ss session.Session
}

// Cookie names. With Secure cookies the session cookie takes the __Host-
// prefix, which browsers accept only from a secure origin, for path /,
// without a Domain: no sibling host can plant or read it.
const (
	sessionCookie     = "kinship_session"
	hostSessionCookie = "__Host-kinship_session"
	loginCookie       = "kinship_login"
	csrfHeader        = "X-CSRF-Token"
	csrfField         = "_csrf"
)

func (s *Server) sessionCookieName() string {
	if s.opts.InsecureCookies {
		return sessionCookie
	}
	return hostSessionCookie
}

// csp allows only the console's own files: no inline script or style, no
// frames, forms only to itself.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// permissionsFor is the Permissions-Policy of a path: no camera,
// microphone or location anywhere, except the camera on an event's
// check-in screen, which scans QR codes at the door.
func permissionsFor(path string) string {
	if strings.HasPrefix(path, "/events/") && strings.HasSuffix(path, "/checkin") && strings.Count(path, "/") == 3 {
		return "camera=(self), microphone=(), geolocation=()"
	}
	return "camera=(), microphone=(), geolocation=()"
}

// secure sets the headers every answer carries.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", permissionsFor(r.URL.Path))
		if !s.opts.InsecureCookies {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !strings.HasPrefix(r.URL.Path, "/assets/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// guard loads the session, checks CSRF on every request that may change
// something, checks the person's roles, and hands the handler a context
// carrying the person's token.
func (s *Server) guard(roles []string, limit int64, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss, err := s.currentSession(r)
		if err != nil {
			s.needSignIn(w, r)
			return
		}
		if unsafeMethod(r.Method) {
			if limit > 0 {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
			if err := s.checkCSRF(r, ss); err != nil {
				s.problem(w, r, &call{ss: ss}, http.StatusForbidden, "This form has expired or did not come from the console. Go back, reload the page and try again.")
				return
			}
		}
		if !allowed(ss, roles) {
			s.problem(w, r, &call{ss: ss}, http.StatusForbidden, "Your role in the community does not open this page.")
			return
		}
		ctx := apis.WithToken(r.Context(), ss.AccessToken)
		h(w, r.WithContext(ctx), &call{ss: ss})
	})
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// allowed reports whether a session's roles open a page for roles (nil:
// anyone signed in). Platform admins open everything.
func allowed(ss session.Session, roles []string) bool {
	if roles == nil || ss.Has("platform-admin") {
		return true
	}
	return slices.ContainsFunc(roles, ss.Has)
}

func (s *Server) currentSession(r *http.Request) (session.Session, error) {
	c, err := r.Cookie(s.sessionCookieName())
	if err != nil {
		return session.Session{}, session.ErrNotFound
	}
	return s.store.Get(c.Value)
}

var errCSRF = errors.New("csrf token missing or wrong")

// checkCSRF accepts a request that carries the session's CSRF token (in the
// header htmx sends or the form field every form has) and, when the
// browser says where it comes from, comes from the console itself.
func (s *Server) checkCSRF(r *http.Request, ss session.Session) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		return errCSRF
	}
	if o := r.Header.Get("Origin"); o != "" && s.origin != "" && o != s.origin {
		return errCSRF
	}
	token := r.Header.Get(csrfHeader)
	if token == "" {
		// Parses a url-encoded or multipart body (PostForm holds both).
		token = r.PostFormValue(csrfField)
	}
	if !session.Equal(ss.CSRF, token) {
		return errCSRF
	}
	return nil
}

// needSignIn sends a person without a session to sign in, and back here
// afterwards.
func (s *Server) needSignIn(w http.ResponseWriter, r *http.Request) {
	back := r.URL.RequestURI()
	if unsafeMethod(r.Method) {
		back = r.Header.Get("HX-Current-URL")
		if u, err := url.Parse(back); err == nil {
			back = u.RequestURI()
		} else {
			back = "/"
		}
	}
	target := "/signin?return=" + url.QueryEscape(back)
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if unsafeMethod(r.Method) {
		http.Error(w, "Your session has ended: sign in again.", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeReturn keeps a return address inside the console: a path, never
// another host.
func safeReturn(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	if u, err := url.Parse(p); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return p
}
