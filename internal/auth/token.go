package auth

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
	// and nothing else.
	WorkloadSubjects []string
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
	cfg    TokenConfig
	client *http.Client

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
	return &TokenVerifier{cfg: cfg, client: client}, nil
}

// ErrIssuerUnavailable means the issuer's discovery document could not be
// fetched; the call may succeed later.
var ErrIssuerUnavailable = errors.New("token issuer unavailable")

func (v *TokenVerifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
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
	provider, err := oidc.NewProvider(discoverCtx, v.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIssuerUnavailable, err)
	}
	var claims struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&claims); err != nil || claims.JWKSURI == "" {
		return nil, fmt.Errorf("%w: discovery document names no jwks_uri", ErrIssuerUnavailable)
	}
	skew := v.cfg.ClockSkew
	v.verifier = oidc.NewVerifier(v.cfg.Issuer, oidc.NewRemoteKeySet(fetchCtx, claims.JWKSURI), &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256, oidc.EdDSA},
		// An expired token is accepted for up to the clock skew.
		Now: func() time.Time { return time.Now().Add(-skew) },
	})
	return v.verifier, nil
}

// Verify checks raw's signature, issuer, audience and lifetime and returns
// the principal it names.
func (v *TokenVerifier) Verify(ctx context.Context, raw string) (Principal, error) {
	verifier, err := v.get(ctx)
	if err != nil {
		return Principal{}, err
	}
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return Principal{}, errors.New("token expired")
		}
		return Principal{}, fmt.Errorf("token rejected: %w", err)
	}
	if slices.Contains(v.cfg.WorkloadSubjects, tok.Subject) {
		return Principal{Kind: KindWorkload, Subject: tok.Subject, Roles: []Role{Workload}}, nil
	}
	var claims struct {
		Community string   `json:"kinship_community"`
		Roles     []string `json:"kinship_roles"`
		MemberID  string   `json:"kinship_member_id"`
	}
	if err := tok.Claims(&claims); err != nil {
		return Principal{}, fmt.Errorf("token claims: %w", err)
	}
	p := Principal{Kind: KindUser, Subject: tok.Subject, Community: claims.Community, MemberID: claims.MemberID}
	for _, r := range claims.Roles {
		role := Role(r)
		if role == Workload { // only configured subjects are workloads
			continue
		}
		if slices.Contains(AllRoles(), role) && !p.Has(role) {
			p.Roles = append(p.Roles, role)
		}
	}
	if p.Community == "" && !p.Has(PlatformAdmin) {
		return Principal{}, errors.New("token names no community")
	}
	if p.Has(PlatformAdmin) {
		p.Community = "" // platform admins act in every community
	}
	return p, nil
}
