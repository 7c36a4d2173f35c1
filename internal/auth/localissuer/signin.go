package localissuer

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Person is someone the dev sign-in page offers: a seeded person of a
// community, with the claims their tokens carry.
type Person struct {
	Subject   string
	Name      string
	Community string
	Roles     []string
	MemberID  string
}

// Client is an OpenID Connect client allowed to sign people in through
// the authorization-code flow: the console.
type Client struct {
	ID string
	// Secret, when set, must be presented at the token endpoint (HTTP
	// Basic or client_secret_post); public clients rely on PKCE alone.
	Secret string
	// RedirectURIs are the exact callback URLs codes may be sent to.
	RedirectURIs []string
	// Audience is the aud of the access tokens issued to the client: the
	// audience Kinship's APIs trust.
	Audience string
	// AccessTTL is how long access tokens live; 0 means 8 hours.
	AccessTTL time.Duration
}

// codeTTL bounds how long an authorization code may wait to be redeemed.
const codeTTL = time.Minute

// signIn is the issuer's authorization-code state: registered clients,
// the people offered, and codes not yet redeemed.
type signIn struct {
	mu      sync.Mutex
	clients map[string]Client
	people  []Person
	codes   map[string]pendingCode // by SHA-256 of the code
}

type pendingCode struct {
	client, redirectURI string
	challenge, nonce    string
	person              Person
	expires             time.Time
}

// RegisterClient allows c to use the authorization-code flow; registering
// the same id again replaces it.
func (i *Issuer) RegisterClient(c Client) {
	i.signIn.mu.Lock()
	defer i.signIn.mu.Unlock()
	if i.signIn.clients == nil {
		i.signIn.clients = map[string]Client{}
	}
	i.signIn.clients[c.ID] = c
}

// SetPeople replaces the people the sign-in page offers.
func (i *Issuer) SetPeople(people []Person) {
	i.signIn.mu.Lock()
	defer i.signIn.mu.Unlock()
	i.signIn.people = slices.Clone(people)
}

func (i *Issuer) client(id string) (Client, bool) {
	i.signIn.mu.Lock()
	defer i.signIn.mu.Unlock()
	c, ok := i.signIn.clients[id]
	return c, ok
}

func (i *Issuer) person(subject string) (Person, bool) {
	i.signIn.mu.Lock()
	defer i.signIn.mu.Unlock()
	for _, p := range i.signIn.people {
		if p.Subject == subject {
			return p, true
		}
	}
	return Person{}, false
}

// signInDiscovery adds the authorization-code endpoints to the discovery
// document.
func (i *Issuer) signInDiscovery(doc map[string]any) {
	doc["authorization_endpoint"] = i.url + "/authorize"
	doc["token_endpoint"] = i.url + "/token"
	doc["response_types_supported"] = []string{"code", "id_token"}
	doc["grant_types_supported"] = []string{"authorization_code"}
	doc["code_challenge_methods_supported"] = []string{"S256"}
	doc["token_endpoint_auth_methods_supported"] = []string{"none", "client_secret_basic", "client_secret_post"}
	doc["scopes_supported"] = []string{"openid", "profile"}
}

func (i *Issuer) signInRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /authorize", i.authorizePage)
	mux.HandleFunc("POST /authorize", i.authorizeChoice)
	mux.HandleFunc("POST /token", i.token)
}

// authRequest is a checked authorization request.
type authRequest struct {
	client                               Client
	redirectURI, state, nonce, challenge string
	loginHint                            string
}

var errBadRedirect = errors.New("unknown client or redirect_uri")

// parseAuthRequest checks an authorization request. A bad client or
// redirect URI is errBadRedirect (the browser is not sent anywhere);
// anything else is reported to the client through its redirect URI.
func (i *Issuer) parseAuthRequest(q url.Values) (authRequest, string, error) {
	c, ok := i.client(q.Get("client_id"))
	ru := q.Get("redirect_uri")
	if !ok || !slices.Contains(c.RedirectURIs, ru) {
		return authRequest{}, "", errBadRedirect
	}
	r := authRequest{client: c, redirectURI: ru, state: q.Get("state"), nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge"), loginHint: q.Get("login_hint")}
	switch {
	case q.Get("response_type") != "code":
		return r, "unsupported_response_type", errors.New("response_type must be code")
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		return r, "invalid_scope", errors.New("scope must include openid")
	case q.Get("code_challenge_method") != "S256" || len(r.challenge) < 43:
		return r, "invalid_request", errors.New("PKCE with code_challenge_method S256 is required")
	case r.state == "":
		return r, "invalid_request", errors.New("state is required")
	}
	return r, "", nil
}

// refuse answers a bad authorization request: on the page when the client
// cannot be trusted with a redirect, through the redirect otherwise.
func refuse(w http.ResponseWriter, r *http.Request, ar authRequest, code string, err error) {
	if errors.Is(err, errBadRedirect) {
		http.Error(w, "sign-in refused: "+err.Error(), http.StatusBadRequest)
		return
	}
	u, _ := url.Parse(ar.redirectURI)
	q := u.Query()
	q.Set("error", code)
	q.Set("error_description", err.Error())
	if ar.state != "" {
		q.Set("state", ar.state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// authorizePage shows the people one may sign in as; with a login_hint
// naming one of them, it signs them in at once (the dev stack's one-click
// link).
func (i *Issuer) authorizePage(w http.ResponseWriter, r *http.Request) {
	ar, code, err := i.parseAuthRequest(r.URL.Query())
	if err != nil {
		refuse(w, r, ar, code, err)
		return
	}
	if p, ok := i.person(ar.loginHint); ok && ar.loginHint != "" {
		i.issueCode(w, r, ar, p)
		return
	}
	i.signIn.mu.Lock()
	people := slices.Clone(i.signIn.people)
	i.signIn.mu.Unlock()
	setPageHeaders(w)
	_ = chooserPage.Execute(w, map[string]any{"People": people, "Params": r.URL.Query()})
}

// authorizeChoice signs in the person chosen on the page.
func (i *Issuer) authorizeChoice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	ar, code, err := i.parseAuthRequest(r.PostForm)
	if err != nil {
		refuse(w, r, ar, code, err)
		return
	}
	p, ok := i.person(r.PostForm.Get("subject"))
	if !ok {
		refuse(w, r, ar, "access_denied", errors.New("unknown person"))
		return
	}
	i.issueCode(w, r, ar, p)
}

func (i *Issuer) issueCode(w http.ResponseWriter, r *http.Request, ar authRequest, p Person) {
	code := randomString(32)
	i.signIn.mu.Lock()
	if i.signIn.codes == nil {
		i.signIn.codes = map[string]pendingCode{}
	}
	now := time.Now()
	for k, c := range i.signIn.codes {
		if now.After(c.expires) {
			delete(i.signIn.codes, k)
		}
	}
	i.signIn.codes[hashString(code)] = pendingCode{client: ar.client.ID, redirectURI: ar.redirectURI,
		challenge: ar.challenge, nonce: ar.nonce, person: p, expires: now.Add(codeTTL)}
	i.signIn.mu.Unlock()
	u, _ := url.Parse(ar.redirectURI)
	q := u.Query()
	q.Set("code", code)
	q.Set("state", ar.state)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// token redeems an authorization code for an access token (for Kinship's
// APIs) and an ID token (for the client).
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = f.Get("client_id"), f.Get("client_secret")
	} else if id, err := url.QueryUnescape(clientID); err == nil {
		clientID = id
		if s, err := url.QueryUnescape(secret); err == nil {
			secret = s
		}
	}
	c, ok := i.client(clientID)
	if !ok || (c.Secret != "" && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1) {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	key := hashString(f.Get("code"))
	i.signIn.mu.Lock()
	pc, found := i.signIn.codes[key]
	delete(i.signIn.codes, key) // a code is redeemed once, right or wrong
	i.signIn.mu.Unlock()
	switch {
	case !found || time.Now().After(pc.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case pc.client != c.ID || pc.redirectURI != f.Get("redirect_uri"):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code issued to another client or redirect_uri")
		return
	case !verifierMatches(f.Get("code_verifier"), pc.challenge):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	ttl := c.AccessTTL
	if ttl == 0 {
		ttl = 8 * time.Hour
	}
	p := pc.person
	access, err := i.Mint(Claims{Subject: p.Subject, Audience: c.Audience, Community: p.Community,
		Roles: p.Roles, MemberID: p.MemberID, TTL: ttl})
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", "cannot sign")
		return
	}
	id, err := i.mintIDToken(c.ID, p, pc.nonce, ttl)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", "cannot sign")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]any{"access_token": access, "id_token": id, "token_type": "Bearer",
		"expires_in": int(ttl.Seconds()), "scope": "openid profile"})
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	writeJSON(w, map[string]string{"error": code, "error_description": desc})
}

// verifierMatches checks a PKCE code_verifier against its S256 challenge
// (RFC 7636 §4.6).
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func setPageHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// chooserPage lists the people to sign in as; every parameter of the
// request travels on in hidden fields.
var chooserPage = template.Must(template.New("chooser").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — Kinship development issuer</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}
button{font:inherit;width:100%;text-align:left;padding:.75rem 1rem;margin:.25rem 0;border:1px solid #767680;border-radius:.5rem;background:#fff;cursor:pointer}
button:hover,button:focus{background:#eef;outline:2px solid #3846a8}small{color:#44464f;display:block}</style></head>
<body><main><h1>Sign in</h1>
<p>This is Kinship's development issuer: choose who you are. It is never used in production.</p>
{{range .People}}<form method="post" action="/authorize">
{{range $k, $vs := $.Params}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
<input type="hidden" name="subject" value="{{.Subject}}">
<button type="submit">{{.Name}}<small>{{range $i, $r := .Roles}}{{if $i}}, {{end}}{{$r}}{{end}} of {{.Community}}</small></button>
</form>{{else}}<p>Nobody has been seeded yet; wait for the stack to finish starting and reload.</p>{{end}}
</main></body></html>`))

// mintIDToken signs the ID token a client receives: who signed in, for the
// client, carrying the nonce the client sent.
func (i *Issuer) mintIDToken(clientID string, p Person, nonce string, ttl time.Duration) (string, error) {
	i.mu.Lock()
	key := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.KeyID))
	if err != nil {
		return "", err
	}
	now := time.Now()
	std := jwt.Claims{Issuer: i.url, Subject: p.Subject, Audience: jwt.Audience{clientID},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Second)), Expiry: jwt.NewNumericDate(now.Add(ttl))}
	extra := map[string]any{"name": p.Name}
	if nonce != "" {
		extra["nonce"] = nonce
	}
	return jwt.Signed(signer).Claims(std).Claims(extra).Serialize()
}

// AddPerson offers p on the sign-in page, replacing anyone with the same
// subject.
func (i *Issuer) AddPerson(p Person) {
	i.signIn.mu.Lock()
	defer i.signIn.mu.Unlock()
	i.signIn.people = slices.DeleteFunc(i.signIn.people, func(o Person) bool { return o.Subject == p.Subject })
	i.signIn.people = append(i.signIn.people, p)
}
