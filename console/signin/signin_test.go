package signin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/console/session"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

const callback = "http://127.0.0.1:9/auth/callback"

func setup(t *testing.T) (*Client, *localissuer.Issuer) {
	t.Helper()
	var iss *localissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var err error
	if iss, err = localissuer.New(srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	iss.RegisterClient(localissuer.Client{ID: "kinship-console", RedirectURIs: []string{callback}, Audience: "kinship"})
	iss.SetPeople([]localissuer.Person{
		{Subject: "orla", Name: "Orla Organiser", Community: "demo", Roles: []string{"organiser"}, MemberID: "m-1"},
		{Subject: "oscar", Name: "Oscar Other", Community: "other", Roles: []string{"organiser"}, MemberID: "m-2"},
		{Subject: "nobody", Name: "No Role", Community: "demo"},
	})
	v, err := auth.NewTokenVerifier(auth.TokenConfig{Issuer: srv.URL, Audience: "kinship"}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Issuer: srv.URL, ClientID: "kinship-console", RedirectURL: callback, Community: "demo"}, v, http.DefaultClient), iss
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// signInAs runs the browser's part: to the issuer, which sends it back to
// the callback with a code.
func signInAs(t *testing.T, c *Client, who string) (session.Login, url.Values) {
	t.Helper()
	target, login, err := c.Begin(context.Background(), "/members", who)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(target)
	if u.Query().Get("code_challenge_method") != "S256" || u.Query().Get("code_challenge") == "" || u.Query().Get("nonce") != login.Nonce {
		t.Fatalf("the authorization request lacks PKCE or nonce: %s", target)
	}
	if strings.Contains(target, login.Verifier) {
		t.Fatal("the PKCE verifier left the server")
	}
	res, err := noRedirects.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), callback) {
		t.Fatalf("issuer answered %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	return login, back.Query()
}

func TestSignInGivesASessionWithThePersonsOwnToken(t *testing.T) {
	c, _ := setup(t)
	login, q := signInAs(t, c, "orla")
	ss, expiry, err := c.Finish(context.Background(), login, q)
	if err != nil {
		t.Fatal(err)
	}
	if ss.Subject != "orla" || ss.Name != "Orla Organiser" || ss.Community != "demo" || ss.MemberID != "m-1" || !ss.Has("organiser") || ss.AccessToken == "" {
		t.Errorf("session %+v", ss)
	}
	if expiry.IsZero() {
		t.Error("no token expiry")
	}
}

func TestCallbackRefusals(t *testing.T) {
	tests := []struct {
		name string
		who  string
		mut  func(*session.Login, url.Values)
		want error
	}{
		{"state of another sign-in", "orla", func(_ *session.Login, q url.Values) { q.Set("state", "forged") }, ErrState},
		{"no state", "orla", func(_ *session.Login, q url.Values) { q.Del("state") }, ErrState},
		{"nonce of another sign-in", "orla", func(l *session.Login, _ url.Values) { l.Nonce = session.Random() }, ErrNonce},
		{"a person of another community", "oscar", nil, ErrCommunity},
		{"a person without a role", "nobody", nil, ErrNoRole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := setup(t)
			login, q := signInAs(t, c, tt.who)
			if tt.mut != nil {
				tt.mut(&login, q)
			}
			ss, _, err := c.Finish(context.Background(), login, q)
			if !errors.Is(err, tt.want) || ss.AccessToken != "" {
				t.Fatalf("Finish = %+v, %v; want %v and no session", ss, err, tt.want)
			}
		})
	}
}

func TestAWrongVerifierGetsNoToken(t *testing.T) {
	c, _ := setup(t)
	login, q := signInAs(t, c, "orla")
	login.Verifier = "another-verifier-of-sufficient-length-0123456789abcdef"
	if _, _, err := c.Finish(context.Background(), login, q); err == nil {
		t.Fatal("a code was redeemed with another PKCE verifier")
	}
}

func TestACallbackCannotBeReplayed(t *testing.T) {
	c, _ := setup(t)
	login, q := signInAs(t, c, "orla")
	if _, _, err := c.Finish(context.Background(), login, q); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Finish(context.Background(), login, q); err == nil {
		t.Fatal("the same code signed in twice")
	}
}

func TestIssuerRefusalIsReported(t *testing.T) {
	c, _ := setup(t)
	login, _ := signInAs(t, c, "orla")
	q := url.Values{"state": {login.State}, "error": {"access_denied"}}
	if _, _, err := c.Finish(context.Background(), login, q); err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Fatalf("Finish = %v", err)
	}
}
