// Package outbound is the one HTTP client for every request Kinship makes
// on someone's behalf — webhook posts today, activity sources and domain
// webhooks later. Whoever configures such a destination could otherwise
// aim the platform at its own network (server-side request forgery), so
// the client:
//
//   - checks the destination when it is registered (CheckURL) and again,
//     on the address actually dialled, when it connects: DNS answers that
//     change between the two (rebinding) gain nothing;
//   - refuses loopback, private (RFC 1918), link-local (cloud metadata
//     such as 169.254.169.254), unique-local (fd00:ec2::254), CGNAT,
//     multicast, unspecified and reserved addresses, their IPv4-mapped and
//     embedded IPv6 forms, other spellings of IPv4 addresses (2130706433),
//     and cluster-internal names (localhost, *.svc, *.cluster.local,
//     kubernetes.default, names without a dot) — unless the operator's
//     allow-list names the host or covers the address;
//   - follows no redirect (a 3xx answer is returned as it is), uses no
//     proxy from the environment, bounds the time of each request and
//     reads at most a bounded part of the response body;
//   - reports failures in words safe to show the person who configured
//     the destination: "refused: destination not allowed", "could not
//     connect", "timed out" — never a port's state.
package outbound

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Resolver resolves host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Client.
type Config struct {
	// Allow lists CIDRs, addresses and host names the operator permits
	// although they are internal, such as an in-cluster chat bridge.
	Allow []string
	// Timeout bounds one request, from dialling to the end of the body;
	// 0 means 10 s.
	Timeout time.Duration
	// MaxResponseBytes bounds how much of a response body is read; 0
	// means 64 KiB.
	MaxResponseBytes int64
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
}

// Client makes guarded requests. It is safe for concurrent use.
type Client struct {
	policy  Policy
	http    *http.Client
	maxBody int64
}

// New returns a Client; an unreadable allow-list entry is an error.
func New(cfg Config) (*Client, error) {
	policy, err := NewPolicy(cfg.Allow)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 64 << 10
	}
	var resolver Resolver = net.DefaultResolver
	if cfg.Resolver != nil {
		resolver = cfg.Resolver
	}
	d := &dialer{policy: policy, resolver: resolver, net: net.Dialer{Timeout: min(5*time.Second, cfg.Timeout), KeepAlive: 30 * time.Second}}
	d.net.ControlContext = d.control
	transport := &http.Transport{
		Proxy:                  nil, // never the environment's proxy: it would dial for us, unchecked
		DialContext:            d.dialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    5 * time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 32 << 10,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
	}
	return &Client{
		policy:  policy,
		maxBody: cfg.MaxResponseBytes,
		http: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// Redirects are not followed: a public URL answering 307 with
			// an internal Location must not take the request there.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Policy is the client's destination policy, for checking a destination
// when it is registered.
func (c *Client) Policy() Policy { return c.policy }

// Response is a destination's answer: its status, headers and at most
// MaxResponseBytes of its body.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Do sends req and reads the bounded answer. A redirect is returned as it
// is, not followed. Errors are *Error.
func (c *Client) Do(req *http.Request) (*Response, error) {
	if _, err := c.policy.CheckURL(req.URL.String()); err != nil {
		if errors.Is(err, ErrNotAllowed) {
			return nil, &Error{Kind: KindNotAllowed, Err: err}
		}
		return nil, &Error{Kind: KindBadURL, Err: err}
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, classify(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody))
	if err != nil {
		return nil, classify(err)
	}
	return &Response{StatusCode: res.StatusCode, Header: res.Header, Body: body}, nil
}

// Kind is what went wrong, in words safe to show.
type Kind string

// Kinds of failure.
const (
	KindNotAllowed Kind = "refused: destination not allowed"
	KindBadURL     Kind = "refused: not a valid destination URL"
	KindConnect    Kind = "could not connect"
	KindTimeout    Kind = "timed out"
)

// Error is a failed request. Its text is its Kind only; the cause (which
// may tell whether a port is open) is for logs, through Unwrap.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return string(e.Kind) }
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotAllowed) hold for refused destinations.
func (e *Error) Is(target error) bool { return target == ErrNotAllowed && e.Kind == KindNotAllowed }

func classify(err error) *Error {
	var ne net.Error
	switch {
	case errors.Is(err, ErrNotAllowed):
		return &Error{Kind: KindNotAllowed, Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Error{Kind: KindTimeout, Err: err}
	}
	return &Error{Kind: KindConnect, Err: err}
}
