// Package console is Kinship's web console (`kinship console`): the
// organisers' and members' application in the browser. It signs people in
// with OpenID Connect against the community's issuer and calls every
// service's Connect API with the signed-in person's own token; it keeps
// nothing but sessions.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/kinshiphq/kinship/console/apis"
	"github.com/kinshiphq/kinship/console/pages"
	"github.com/kinshiphq/kinship/console/session"
	"github.com/kinshiphq/kinship/console/signin"
	"github.com/kinshiphq/kinship/internal/auth"
	"github.com/kinshiphq/kinship/internal/rpc"
	"github.com/kinshiphq/kinship/internal/serve"
)

// Config configures the console.
type Config struct {
	HTTPAddr string
	// Community is the one community this console serves.
	Community string
	// PublicURL is the console's address as browsers reach it, such as
	// https://demo.example.org; the OIDC redirect URL is PublicURL +
	// /auth/callback.
	PublicURL string
	// Auth is the issuer and audience the APIs trust: the console signs
	// people in at Auth.Issuer and verifies their access tokens exactly as
	// the APIs do.
	Auth auth.TokenConfig
	// ClientID is the console's OIDC client at the issuer; ClientSecret is
	// empty for a public client (PKCE alone).
	ClientID     string
	ClientSecret string
	// APIs are the base URLs of the services.
	APIs apis.URLs
	// SessionFile, when set, keeps sessions across restarts (they hold
	// access tokens: mode 0600, on a private volume).
	SessionFile string
	// SessionMaxAge and SessionIdle bound sessions; 0 means 12h and 2h.
	SessionMaxAge, SessionIdle time.Duration
	ShutdownTimeout            time.Duration
}

// RedirectURL is the callback the issuer sends people back to.
func (c Config) RedirectURL() string { return strings.TrimSuffix(c.PublicURL, "/") + "/auth/callback" }

// InsecureCookies reports whether cookies may go without the Secure flag:
// only for a plain-http console on a loopback address.
func (c Config) InsecureCookies() bool {
	u, err := url.Parse(c.PublicURL)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Validate reports every missing or unsafe setting.
func (c Config) Validate() error {
	var errs []error
	if c.Community == "" {
		errs = append(errs, errors.New("console: the community is not set"))
	}
	u, err := url.Parse(c.PublicURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		errs = append(errs, fmt.Errorf("console: public URL %q is not an http(s) URL", c.PublicURL))
	case u.Scheme == "http" && !c.InsecureCookies():
		errs = append(errs, errors.New("console: the public URL must be https (plain http only on a loopback address)"))
	case u.Path != "" && u.Path != "/":
		errs = append(errs, errors.New("console: the public URL must be the root of its host (serve the console at /)"))
	}
	if err := c.Auth.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("console: the OIDC client id is not set"))
	}
	for name, v := range map[string]string{"members": c.APIs.Members, "events": c.APIs.Events, "communications": c.APIs.Communications,
		"partners": c.APIs.Partners, "journeys": c.APIs.Journeys} {
		if v == "" {
			errs = append(errs, fmt.Errorf("console: the %s API URL is not set", name))
		}
	}
	if c.SessionMaxAge < 0 || c.SessionIdle < 0 {
		errs = append(errs, errors.New("console: session lifetimes must not be negative"))
	}
	return errors.Join(errs...)
}

// Deps are what Run is given.
type Deps struct {
	Logger *slog.Logger
	Tracer trace.TracerProvider
	// Listener, when set, is used instead of listening on HTTPAddr.
	Listener net.Listener
}

// Handler builds the console's HTTP handler (without /healthz and
// /readyz, which Run adds).
func Handler(cfg Config, deps Deps) (http.Handler, *session.Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	store, err := session.New(session.Options{MaxAge: cfg.SessionMaxAge, IdleTimeout: cfg.SessionIdle, File: cfg.SessionFile})
	if err != nil {
		return nil, nil, err
	}
	hc := rpc.HTTPClient(30 * time.Second)
	verifier, err := auth.NewTokenVerifier(cfg.Auth, hc)
	if err != nil {
		return nil, nil, err
	}
	si := signin.New(signin.Config{Issuer: cfg.Auth.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		RedirectURL: cfg.RedirectURL(), Community: cfg.Community}, verifier, hc)
	srv, err := pages.New(pages.Options{Community: cfg.Community, PublicURL: cfg.PublicURL, InsecureCookies: cfg.InsecureCookies(),
		Logger: deps.Logger}, store, si, apis.New(cfg.APIs, deps.Tracer))
	if err != nil {
		return nil, nil, err
	}
	return srv.Handler(), store, nil
}

// Run serves the console until ctx ends.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	h, _, err := Handler(cfg, deps)
	if err != nil {
		return err
	}
	ln, err := serve.Listen(deps.Listener, cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	s := serve.New(serve.Options{Logger: deps.Logger, ShutdownTimeout: cfg.ShutdownTimeout})
	s.Handle("/", h)
	deps.Logger.InfoContext(ctx, "console: serving", "addr", ln.Addr().String(), "community", cfg.Community)
	return s.Serve(ctx, ln)
}

// ReadSecretFile reads a client secret from a file, trimming the newline.
func ReadSecretFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("console: client secret: %w", err)
	}
	return strings.TrimSpace(string(raw)), nil
}
