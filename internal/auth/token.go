package auth

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Claim names Kinship reads from OIDC tokens beside the standard ones.
const (
	ClaimCommunity = "kinship_community"
	ClaimRoles     = "kinship_roles"
	ClaimMemberID  = "kinship_member_id"
)

// MaxClockSkew is the most clock difference with the issuer that tokens
// are allowed.
const MaxClockSkew = 5 * time.Minute

// TokenConfig says which tokens to trust.
type TokenConfig struct {
	// Issuer is the OIDC issuer URL; its discovery document names the JWKS.
	Issuer string
	// Audience every token must be issued for.
	Audience string
	// ClockSkew is how long after its expiry a token is still accepted; 0
	// means one minute, and it may not exceed MaxClockSkew.
	ClockSkew time.Duration
	// WorkloadSubjects are the token subjects of Kinship's own components
	// (the worker, a service verifying API keys); they get the Workload role
	// and nothing else. A subject alone never makes a workload: the token
	// must also come from the workload issuer and carry WorkloadAudience,
	// which people's tokens never do.
	WorkloadSubjects []string
	// WorkloadIssuer, when set, is the issuer of workload tokens — in
	// Kubernetes, the cluster's service-account issuer, so components
	// present projected service-account tokens. Unset, workload tokens come
	// from Issuer.
	WorkloadIssuer string
	// WorkloadAudience is the audience every workload token carries
	// instead of Audience: one the identity provider issues only to
	// Kinship's components (a client of its own, or service-account
	// tokens), never to people. A token for both audiences is a person's.
	WorkloadAudience string
	// WorkloadCAFile is a PEM bundle trusted when fetching the workload
	// issuer's keys, such as the cluster CA.
	WorkloadCAFile string
}

// Validate reports a missing or unsafe setting.
func (c TokenConfig) Validate() error {
	var errs []error
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("auth issuer %q is not an http(s) URL", c.Issuer))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("auth audience is empty"))
	}
	if c.WorkloadIssuer != "" {
		if u, err := url.Parse(c.WorkloadIssuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("auth workload issuer %q is not an http(s) URL", c.WorkloadIssuer))
		}
		if len(c.WorkloadSubjects) == 0 {
			errs = append(errs, errors.New("auth workload issuer set but no workload subjects"))
		}
	}
	if (c.WorkloadIssuer != "" || len(c.WorkloadSubjects) > 0) && c.WorkloadAudience == "" {
		errs = append(errs, errors.New("auth workload audience is empty: workload tokens need an audience people's tokens never carry"))
	}
	if c.WorkloadAudience != "" && c.WorkloadAudience == c.Audience {
		errs = append(errs, errors.New("auth workload audience equals the audience of people's tokens"))
	}
	if c.ClockSkew < 0 || c.ClockSkew > MaxClockSkew {
		errs = append(errs, fmt.Errorf("auth clock skew %v is outside 0..%v", c.ClockSkew, MaxClockSkew))
	}
	return errors.Join(errs...)
}

// TokenVerifier verifies OIDC bearer tokens. The issuer's discovery
// document and keys are fetched on first use and cached; a token signed with
// a key the cache lacks makes it fetch the JWKS again, so key rotation needs
// no restart.
type TokenVerifier struct {
	cfg      TokenConfig
	people   *issuer
	workload *issuer // nil when no workload audience is configured

	// verified remembers tokens already checked, so a busy caller's token
	// is not verified again on every call.
	mu       sync.Mutex
	verified map[[32]byte]verifiedToken
}

type verifiedToken struct {
	principal Principal
	until     time.Time
}

// Verified tokens are remembered for at most verifiedFor, and at most
// maxVerified of them.
const (
	verifiedFor = 5 * time.Minute
	maxVerified = 10_000
)

// issuer verifies one issuer's tokens.
type issuer struct {
	url, audience string
	skew          time.Duration
	client        *http.Client

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// NewTokenVerifier returns a verifier for cfg that fetches with client.
func NewTokenVerifier(cfg TokenConfig, client *http.Client) (*TokenVerifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = time.Minute
	}
	v := &TokenVerifier{cfg: cfg, people: &issuer{url: cfg.Issuer, audience: cfg.Audience, skew: cfg.ClockSkew, client: client},
		verified: map[[32]byte]verifiedToken{}}
	switch {
	case cfg.WorkloadIssuer != "":
		wclient := client
		if cfg.WorkloadCAFile != "" {
			var err error
			if wclient, err = clientTrusting(client, cfg.WorkloadCAFile); err != nil {
				return nil, err
			}
		}
		v.workload = &issuer{url: cfg.WorkloadIssuer, audience: cfg.WorkloadAudience, skew: cfg.ClockSkew, client: wclient}
	case cfg.WorkloadAudience != "":
		// Workload tokens from the people's issuer, for the workload audience.
		v.workload = &issuer{url: cfg.Issuer, audience: cfg.WorkloadAudience, skew: cfg.ClockSkew, client: client}
	}
	return v, nil
}

// ErrIssuerUnavailable means the issuer's discovery document could not be
// fetched; the call may succeed later.
var ErrIssuerUnavailable = errors.New("token issuer unavailable")

func (v *issuer) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	// The key set keeps using this context for its fetches: detach it from
	// the request that happened to come first.
	fetchCtx := oidc.ClientContext(context.WithoutCancel(ctx), v.client)
	discoverCtx, cancel := context.WithTimeout(fetchCtx, 10*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(discoverCtx, v.url)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIssuerUnavailable, err)
	}
	var claims struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&claims); err != nil || claims.JWKSURI == "" {
		return nil, fmt.Errorf("%w: discovery document names no jwks_uri", ErrIssuerUnavailable)
	}
	skew := v.skew
	v.verifier = oidc.NewVerifier(v.url, oidc.NewRemoteKeySet(fetchCtx, claims.JWKSURI), &oidc.Config{
		ClientID:             v.audience,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256, oidc.EdDSA},
		// An expired token is accepted for up to the clock skew.
		Now: func() time.Time { return time.Now().Add(-skew) },
	})
	return v.verifier, nil
}

// verify checks raw against this issuer.
func (v *issuer) verify(ctx context.Context, raw string) (*oidc.IDToken, error) {
	verifier, err := v.get(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, errors.New("token expired")
		}
		return nil, fmt.Errorf("token rejected: %w", err)
	}
	return tok, nil
}

// Verify checks raw's signature, issuer, audience and lifetime and returns
// the principal it names. A token verified before is trusted again until
// it expires, for at most five minutes.
func (v *TokenVerifier) Verify(ctx context.Context, raw string) (Principal, error) {
	key := sha256.Sum256([]byte(raw))
	now := time.Now()
	v.mu.Lock()
	hit, ok := v.verified[key]
	v.mu.Unlock()
	if ok && now.Before(hit.until) {
		return hit.principal, nil
	}
	p, expiry, err := v.verify(ctx, raw)
	if err != nil {
		return p, err
	}
	until := now.Add(verifiedFor)
	if last := expiry.Add(v.cfg.ClockSkew); last.Before(until) {
		until = last
	}
	v.mu.Lock()
	if len(v.verified) >= maxVerified {
		clear(v.verified)
	}
	v.verified[key] = verifiedToken{principal: p, until: until}
	v.mu.Unlock()
	return p, nil
}

func (v *TokenVerifier) verify(ctx context.Context, raw string) (Principal, time.Time, error) {
	p, tok, err := v.verifyToken(ctx, raw)
	if err != nil {
		return p, time.Time{}, err
	}
	return p, tok.Expiry, nil
}

func (v *TokenVerifier) verifyToken(ctx context.Context, raw string) (Principal, *oidc.IDToken, error) {
	if v.isWorkloadToken(raw) {
		tok, err := v.workload.verify(ctx, raw)
		if err != nil {
			return Principal{}, nil, err
		}
		if !slices.Contains(v.cfg.WorkloadSubjects, tok.Subject) {
			return Principal{}, nil, errors.New("workload token of an unknown subject")
		}
		return Principal{Kind: KindWorkload, Subject: tok.Subject, Roles: []Role{Workload}}, tok, nil
	}
	// A person's token: whatever its subject, it never makes a workload.
	tok, err := v.people.verify(ctx, raw)
	if err != nil {
		return Principal{}, nil, err
	}
	var claims struct {
		Community string   `json:"kinship_community"`
		Roles     []string `json:"kinship_roles"`
		MemberID  string   `json:"kinship_member_id"`
	}
	if err := tok.Claims(&claims); err != nil {
		return Principal{}, nil, fmt.Errorf("token claims: %w", err)
	}
	p := Principal{Kind: KindUser, Subject: tok.Subject, Community: claims.Community, MemberID: claims.MemberID}
	for _, r := range claims.Roles {
		role := Role(r)
		if role == Workload { // only workload tokens are workloads
			continue
		}
		if slices.Contains(AllRoles(), role) && !p.Has(role) {
			p.Roles = append(p.Roles, role)
		}
	}
	if p.Community == "" && !p.Has(PlatformAdmin) {
		return Principal{}, nil, errors.New("token names no community")
	}
	if p.Has(PlatformAdmin) {
		p.Community = "" // platform admins act in every community
	}
	return p, tok, nil
}

// isWorkloadToken picks the verifier for raw from its unverified claims:
// a token of the workload issuer for the workload audience alone goes to
// the workload verifier, which then checks everything; every other token
// is a person's.
func (v *TokenVerifier) isWorkloadToken(raw string) bool {
	if v.workload == nil {
		return false
	}
	iss, aud := unverifiedClaims(raw)
	return iss == v.workload.url && slices.Contains(aud, v.workload.audience) && !slices.Contains(aud, v.cfg.Audience)
}

// unverifiedClaims reads a JWT's iss and aud claims without checking
// anything, only to pick the verifier that then checks everything.
func unverifiedClaims(raw string) (iss string, aud []string) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", nil
	}
	var claims struct {
		Issuer   string          `json:"iss"`
		Audience json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return "", nil
	}
	var one string
	if json.Unmarshal(claims.Audience, &one) == nil {
		return claims.Issuer, []string{one}
	}
	var many []string
	if json.Unmarshal(claims.Audience, &many) == nil {
		return claims.Issuer, many
	}
	return claims.Issuer, nil
}

// clientTrusting returns a copy of base that also trusts the PEM bundle in
// caFile.
func clientTrusting(base *http.Client, caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("auth workload ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("auth workload ca %s holds no certificate", caFile)
	}
	tr, ok := base.Transport.(*http.Transport)
	if !ok || tr == nil {
		tr = http.DefaultTransport.(*http.Transport)
	}
	tr = tr.Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c := *base
	c.Transport = tr
	return &c, nil
}
