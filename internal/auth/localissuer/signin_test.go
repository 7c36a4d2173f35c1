package localissuer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/auth"
)

const redirect = "http://127.0.0.1:9/auth/callback"

// rig is an issuer on a loopback server with the console registered and
// one person to sign in as.
func rig(t *testing.T, secret string) (*Issuer, *httptest.Server) {
	t.Helper()
	var iss *Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var err error
	if iss, err = New(srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	iss.RegisterClient(Client{ID: "console", Secret: secret, RedirectURIs: []string{redirect}, Audience: "kinship"})
	iss.SetPeople([]Person{{Subject: "dev-organiser-demo", Name: "Orla", Community: "demo", Roles: []string{"organiser"}, MemberID: "m-1"}})
	return iss, srv
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const verifier = "a-verifier-that-is-long-enough-to-be-valid-0123456789"

func authorizeQuery(mut func(url.Values)) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {"console"}, "redirect_uri": {redirect}, "scope": {"openid profile"},
		"state": {"st-1"}, "nonce": {"n-1"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"},
		"login_hint": {"dev-organiser-demo"}}
	if mut != nil {
		mut(q)
	}
	return q
}

// authorize asks for a code and returns the redirect it answers with.
func authorize(t *testing.T, srv *httptest.Server, q url.Values) *http.Response {
	t.Helper()
	res, err := noRedirects.Get(srv.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func codeOf(t *testing.T, res *http.Response) string {
	t.Helper()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d, want a redirect", res.StatusCode)
	}
	u, _ := url.Parse(res.Header.Get("Location"))
	if u.Query().Get("state") != "st-1" {
		t.Fatalf("state not returned: %s", u)
	}
	return u.Query().Get("code")
}

func redeem(t *testing.T, srv *httptest.Server, form url.Values) (int, map[string]any) {
	t.Helper()
	res, err := http.PostForm(srv.URL+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

func TestCodeFlowIssuesTokensTheAPIsAccept(t *testing.T) {
	_, srv := rig(t, "")
	code := codeOf(t, authorize(t, srv, authorizeQuery(nil)))
	status, body := redeem(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {"console"}, "code_verifier": {verifier}})
	if status != http.StatusOK {
		t.Fatalf("token endpoint: %d %v", status, body)
	}
	v, err := auth.NewTokenVerifier(auth.TokenConfig{Issuer: srv.URL, Audience: "kinship"}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), body["access_token"].(string))
	if err != nil {
		t.Fatalf("the APIs' verifier refused the access token: %v", err)
	}
	if p.Subject != "dev-organiser-demo" || p.Community != "demo" || !p.Has(auth.Organiser) || p.MemberID != "m-1" {
		t.Errorf("principal %+v", p)
	}
	if _, err := v.Verify(context.Background(), body["id_token"].(string)); err == nil {
		t.Error("the ID token was accepted as an API token; its audience is the console's")
	}
}

func TestTokenEndpointRefusals(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		mut    func(url.Values)
		twice  bool
		want   string
	}{
		{"wrong PKCE verifier", "", func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 50)) }, false, "invalid_grant"},
		{"no PKCE verifier", "", func(f url.Values) { f.Del("code_verifier") }, false, "invalid_grant"},
		{"another redirect_uri", "", func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:9/other") }, false, "invalid_grant"},
		{"a code redeemed twice", "", nil, true, "invalid_grant"},
		{"an unknown code", "", func(f url.Values) { f.Set("code", "made-up") }, false, "invalid_grant"},
		{"an unknown client", "", func(f url.Values) { f.Set("client_id", "intruder") }, false, "invalid_client"},
		{"a confidential client without its secret", "s3cret", nil, false, "invalid_client"},
		{"a confidential client with a wrong secret", "s3cret", func(f url.Values) { f.Set("client_secret", "guess") }, false, "invalid_client"},
		{"another grant type", "", func(f url.Values) { f.Set("grant_type", "password") }, false, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := rig(t, tt.secret)
			code := codeOf(t, authorize(t, srv, authorizeQuery(nil)))
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
				"client_id": {"console"}, "code_verifier": {verifier}}
			if tt.twice {
				if status, body := redeem(t, srv, form); status != http.StatusOK {
					t.Fatalf("first redemption: %d %v", status, body)
				}
			}
			if tt.mut != nil {
				tt.mut(form)
			}
			status, body := redeem(t, srv, form)
			if status == http.StatusOK || body["error"] != tt.want || body["access_token"] != nil {
				t.Fatalf("got %d %v, want error %s and no token", status, body, tt.want)
			}
		})
	}
}

func TestConfidentialClientWithItsSecretGetsTokens(t *testing.T) {
	_, srv := rig(t, "s3cret")
	code := codeOf(t, authorize(t, srv, authorizeQuery(nil)))
	status, body := redeem(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {"console"}, "client_secret": {"s3cret"}, "code_verifier": {verifier}})
	if status != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("got %d %v", status, body)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	tests := []struct {
		name      string
		mut       func(url.Values)
		redirects bool // the error goes back to the (registered) client
		want      string
	}{
		{"an unknown client is not redirected anywhere", func(q url.Values) { q.Set("client_id", "intruder") }, false, ""},
		{"an unregistered redirect_uri is not followed", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, false, ""},
		{"PKCE plain is refused", func(q url.Values) { q.Set("code_challenge_method", "plain") }, true, "invalid_request"},
		{"no PKCE challenge is refused", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, true, "invalid_request"},
		{"no state is refused", func(q url.Values) { q.Del("state") }, true, "invalid_request"},
		{"implicit flow is refused", func(q url.Values) { q.Set("response_type", "token") }, true, "unsupported_response_type"},
		{"no openid scope is refused", func(q url.Values) { q.Set("scope", "profile") }, true, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := rig(t, "")
			res := authorize(t, srv, authorizeQuery(tt.mut))
			if !tt.redirects {
				if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
					t.Fatalf("got %d to %q, want 400 and no redirect", res.StatusCode, res.Header.Get("Location"))
				}
				return
			}
			u, _ := url.Parse(res.Header.Get("Location"))
			if res.StatusCode != http.StatusFound || u.Query().Get("error") != tt.want || u.Query().Get("code") != "" {
				t.Fatalf("got %d to %s, want an %s error and no code", res.StatusCode, u, tt.want)
			}
		})
	}
}

func TestChooserListsPeopleWithTheirNamesEscaped(t *testing.T) {
	iss, srv := rig(t, "")
	iss.AddPerson(Person{Subject: "dev-x", Name: `<script>alert(1)</script>`, Community: "demo", Roles: []string{"member"}})
	res, err := http.Get(srv.URL + "/authorize?" + authorizeQuery(func(q url.Values) { q.Del("login_hint") }).Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	page := string(raw)
	if !strings.Contains(page, "Orla") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(page, "<script>alert") {
		t.Fatalf("chooser page does not list the people safely:\n%s", page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestDiscoveryNamesTheCodeFlowEndpoints(t *testing.T) {
	_, srv := rig(t, "")
	res, err := http.Get(srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(res.Body).Decode(&doc)
	if doc["authorization_endpoint"] != srv.URL+"/authorize" || doc["token_endpoint"] != srv.URL+"/token" || doc["jwks_uri"] != srv.URL+"/jwks.json" {
		t.Fatalf("discovery %v", doc)
	}
	if m, _ := doc["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
		t.Errorf("code_challenge_methods_supported %v", doc["code_challenge_methods_supported"])
	}
}

func TestCodesExpire(t *testing.T) {
	iss, srv := rig(t, "")
	code := codeOf(t, authorize(t, srv, authorizeQuery(nil)))
	iss.signIn.mu.Lock()
	for k, c := range iss.signIn.codes {
		c.expires = time.Now().Add(-time.Second)
		iss.signIn.codes[k] = c
	}
	iss.signIn.mu.Unlock()
	status, body := redeem(t, srv, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {"console"}, "code_verifier": {verifier}})
	if status == http.StatusOK || body["error"] != "invalid_grant" {
		t.Fatalf("an expired code gave %d %v", status, body)
	}
}
