// Package signin signs people in to the console with OpenID Connect: the
// authorization-code flow with PKCE (S256), state and nonce, against the
// community's issuer. The access token it obtains is the person's own
// credential for Kinship's APIs; it is verified exactly as the APIs verify
// it, so the console never believes more about a person than they do.
package signin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kinshiphq/kinship/console/session"
	"github.com/kinshiphq/kinship/internal/auth"
)

// Config says where and as whom the console signs people in.
type Config struct {
	// Issuer is the OIDC issuer URL (discovery names its endpoints).
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client (PKCE alone)
	// RedirectURL is the console's callback, registered at the issuer.
	RedirectURL string
	// Community is the one community this console serves; people of
	// others are refused.
	Community string
}

// Verifier checks an access token as the APIs do.
type Verifier interface {
	Verify(ctx context.Context, raw string) (auth.Principal, error)
}

// Client runs sign-ins.
type Client struct {
	cfg    Config
	tokens Verifier
	http   *http.Client

	mu       sync.Mutex
	oauth    *oauth2.Config
	idTokens *oidc.IDTokenVerifier
}

// New returns a Client; the issuer is discovered on first use.
func New(cfg Config, tokens Verifier, hc *http.Client) *Client {
	return &Client{cfg: cfg, tokens: tokens, http: hc}
}

func (c *Client) discover(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.oauth != nil {
		return c.oauth, c.idTokens, nil
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, c.http), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, c.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("discover the issuer: %w", err)
	}
	c.oauth = &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: c.cfg.RedirectURL, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	// The key set outlives this request: give it a context of its own.
	c.idTokens = p.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), c.http), &oidc.Config{ClientID: c.cfg.ClientID,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256, oidc.EdDSA}})
	return c.oauth, c.idTokens, nil
}

// Begin starts a sign-in: it returns the issuer URL to send the browser
// to and what the callback must find again. loginHint is passed on to the
// issuer (a development issuer signs that person in at once).
func (c *Client) Begin(ctx context.Context, returnTo, loginHint string) (string, session.Login, error) {
	oc, _, err := c.discover(ctx)
	if err != nil {
		return "", session.Login{}, err
	}
	l := session.Login{State: session.Random(), Nonce: session.Random(), Verifier: oauth2.GenerateVerifier(), ReturnTo: returnTo}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(l.Verifier), oidc.Nonce(l.Nonce)}
	if loginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", loginHint))
	}
	return oc.AuthCodeURL(l.State, opts...), l, nil
}

// Errors of a callback; each is a refusal, never a partial sign-in.
var (
	ErrState     = errors.New("the sign-in answer does not belong to this browser's sign-in (state mismatch)")
	ErrNonce     = errors.New("the ID token was not issued for this sign-in (nonce mismatch)")
	ErrCommunity = errors.New("this account belongs to another community")
	ErrNoRole    = errors.New("this account holds no role in the community")
)

// Finish completes a sign-in from the callback's query: it checks state,
// redeems the code with the PKCE verifier, checks the ID token and its
// nonce, and verifies the access token as the APIs would. It returns the
// session to create and the access token's expiry.
func (c *Client) Finish(ctx context.Context, l session.Login, q url.Values) (session.Session, time.Time, error) {
	if !session.Equal(l.State, q.Get("state")) {
		return session.Session{}, time.Time{}, ErrState
	}
	if e := q.Get("error"); e != "" {
		return session.Session{}, time.Time{}, fmt.Errorf("the issuer refused the sign-in: %s", e)
	}
	oc, idv, err := c.discover(ctx)
	if err != nil {
		return session.Session{}, time.Time{}, err
	}
	tok, err := oc.Exchange(oidc.ClientContext(ctx, c.http), q.Get("code"), oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return session.Session{}, time.Time{}, fmt.Errorf("redeem the sign-in code: %w", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return session.Session{}, time.Time{}, errors.New("the issuer returned no ID token")
	}
	id, err := idv.Verify(ctx, rawID)
	if err != nil {
		return session.Session{}, time.Time{}, fmt.Errorf("ID token: %w", err)
	}
	if !session.Equal(l.Nonce, id.Nonce) {
		return session.Session{}, time.Time{}, ErrNonce
	}
	p, err := c.tokens.Verify(ctx, tok.AccessToken)
	if err != nil {
		return session.Session{}, time.Time{}, fmt.Errorf("access token: %w", err)
	}
	if p.Kind != auth.KindUser {
		return session.Session{}, time.Time{}, errors.New("only people sign in to the console")
	}
	if !p.Has(auth.PlatformAdmin) && p.Community != c.cfg.Community {
		return session.Session{}, time.Time{}, ErrCommunity
	}
	var profile struct {
		Name string `json:"name"`
	}
	_ = id.Claims(&profile)
	ss := session.Session{Subject: p.Subject, Name: profile.Name, Community: c.cfg.Community, MemberID: p.MemberID, AccessToken: tok.AccessToken}
	for _, r := range p.Roles {
		ss.Roles = append(ss.Roles, string(r))
	}
	if len(ss.Roles) == 0 {
		return session.Session{}, time.Time{}, ErrNoRole
	}
	slices.Sort(ss.Roles)
	if ss.Name == "" {
		ss.Name = p.Subject
	}
	return ss, tok.Expiry, nil
}
