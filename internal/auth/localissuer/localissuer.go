// Package localissuer is a small OIDC issuer for development and tests: it
// serves a discovery document and a JWKS, and mints tokens for the demo
// organiser, members and Kinship's own workloads. It also signs people in
// to the console with the OpenID Connect authorization-code flow and PKCE
// (signin.go): a page lists the seeded people to choose from, and a
// login_hint naming one signs them in with one click. Its keys can be kept in a
// file so tokens survive a restart, and rotated to exercise key rollover.
// It is never used in production, where a real identity provider issues
// tokens.
package localissuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer signs tokens with its newest key and publishes every key it keeps.
type Issuer struct {
	url string

	mu   sync.Mutex
	keys []jose.JSONWebKey // newest last; private keys

	signIn signIn // the authorization-code flow (signin.go)
}

// New returns an issuer at url with one fresh key, or with the keys stored
// in keyFile when it exists (a new file is written otherwise). An empty
// keyFile keeps keys in memory only.
func New(url, keyFile string) (*Issuer, error) {
	iss := &Issuer{url: url}
	if keyFile != "" {
		raw, err := os.ReadFile(keyFile)
		switch {
		case err == nil:
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 {
				return nil, fmt.Errorf("read issuer keys %s: not a key set", keyFile)
			}
			iss.keys = set.Keys
			return iss, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("read issuer keys: %w", err)
		}
	}
	if err := iss.Rotate(); err != nil {
		return nil, err
	}
	if keyFile != "" {
		raw, err := json.Marshal(jose.JSONWebKeySet{Keys: iss.keys})
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(keyFile, raw, 0o600); err != nil {
			return nil, fmt.Errorf("write issuer keys: %w", err)
		}
	}
	return iss, nil
}

// URL is the issuer URL tokens carry in iss.
func (i *Issuer) URL() string { return i.url }

// Rotate adds a new signing key; the previous one stays published so
// tokens it signed remain valid.
func (i *Issuer) Rotate() error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate issuer key: %w", err)
	}
	var kid [8]byte
	_, _ = rand.Read(kid[:])
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, jose.JSONWebKey{Key: priv, KeyID: fmt.Sprintf("%x", kid), Algorithm: string(jose.ES256), Use: "sig"})
	return nil
}

// DropOldest stops publishing the oldest key (its tokens stop verifying).
func (i *Issuer) DropOldest() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.keys) > 1 {
		i.keys = i.keys[1:]
	}
}

// Claims are what a minted token says.
type Claims struct {
	Subject  string
	Audience string
	// MoreAudiences are added to the token's aud beside Audience.
	MoreAudiences []string
	Community     string
	Roles         []string
	MemberID      string
	TTL           time.Duration
	// IssuedAt defaults to now; tests set it in the past to mint expired
	// tokens.
	IssuedAt time.Time
}

// Mint signs a token for c with the newest key.
func (i *Issuer) Mint(c Claims) (string, error) {
	i.mu.Lock()
	key := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.KeyID))
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	issued := c.IssuedAt
	if issued.IsZero() {
		issued = time.Now()
	}
	std := jwt.Claims{
		Issuer:    i.url,
		Subject:   c.Subject,
		Audience:  append(jwt.Audience{c.Audience}, c.MoreAudiences...),
		IssuedAt:  jwt.NewNumericDate(issued),
		NotBefore: jwt.NewNumericDate(issued.Add(-time.Second)),
		Expiry:    jwt.NewNumericDate(issued.Add(c.TTL)),
	}
	extra := map[string]any{}
	if c.Community != "" {
		extra["kinship_community"] = c.Community
	}
	if len(c.Roles) > 0 {
		extra["kinship_roles"] = c.Roles
	}
	if c.MemberID != "" {
		extra["kinship_member_id"] = c.MemberID
	}
	return jwt.Signed(signer).Claims(std).Claims(extra).Serialize()
}

// Handler serves /.well-known/openid-configuration and /jwks.json, and the
// authorization-code flow of signin.go: /authorize (a page to choose who
// signs in) and /token.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		doc := map[string]any{
			"issuer":                                i.url,
			"jwks_uri":                              i.url + "/jwks.json",
			"id_token_signing_alg_values_supported": []string{string(jose.ES256)},
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
		}
		i.signInDiscovery(doc)
		writeJSON(w, doc)
	})
	i.signInRoutes(mux)
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		i.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, k := range i.keys {
			set.Keys = append(set.Keys, k.Public())
		}
		i.mu.Unlock()
		writeJSON(w, set)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Tokens mints tokens for one set of claims, reusing each until a minute
// before it expires. It is an auth.TokenSource for development workloads.
type Tokens struct {
	issuer *Issuer
	claims Claims

	mu      sync.Mutex
	token   string
	expires time.Time
}

// TokenSource returns a source of tokens for c; c.TTL should be minutes
// or more.
func (i *Issuer) TokenSource(c Claims) *Tokens { return &Tokens{issuer: i, claims: c} }

// Token returns a token valid for at least another minute.
func (t *Tokens) Token(context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && time.Until(t.expires) > time.Minute {
		return t.token, nil
	}
	c := t.claims
	c.IssuedAt = time.Now()
	tok, err := t.issuer.Mint(c)
	if err != nil {
		return "", err
	}
	t.token, t.expires = tok, c.IssuedAt.Add(c.TTL)
	return tok, nil
}
