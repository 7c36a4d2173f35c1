package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Options configure the interceptor.
type Options struct {
	Tokens *TokenVerifier
	// Keys verifies API keys; nil refuses them.
	Keys   APIKeyVerifier
	Policy Policy
	Limits Limits
	// Timeout bounds each unary call's handler; 0 means 15 s.
	Timeout time.Duration
	// StreamTimeout bounds each streaming call (an import, an export);
	// 0 means 10 minutes.
	StreamTimeout time.Duration
	Logger        *slog.Logger
}

// Interceptor authenticates, authorises and confines every call.
type Interceptor struct {
	opts    Options
	byIP    *limiter
	byToken *limiter
}

// NewInterceptor returns the interceptor for one service's policy.
func NewInterceptor(opts Options) *Interceptor {
	if opts.Limits.PerIP == 0 {
		opts.Limits.PerIP = 5
	}
	if opts.Limits.PerToken == 0 {
		opts.Limits.PerToken = 10
	}
	if opts.Limits.Burst == 0 {
		opts.Limits.Burst = 20
	}
	if opts.Timeout == 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.StreamTimeout == 0 {
		opts.StreamTimeout = 10 * time.Minute
	}
	return &Interceptor{
		opts:    opts,
		byIP:    newLimiter(opts.Limits.PerIP, opts.Limits.Burst),
		byToken: newLimiter(opts.Limits.PerToken, opts.Limits.Burst),
	}
}

// WrapUnary guards unary calls.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		client := clientAddress(req.Peer().Addr, req.Header().Values("X-Forwarded-For"), i.opts.Limits.TrustedProxies)
		ctx, cancel, err := i.admit(ctx, req.Spec().Procedure, req.Header().Get("Authorization"), client, req.Any(), i.opts.Timeout)
		if err != nil {
			return nil, err
		}
		defer cancel()
		return next(ctx, req)
	}
}

// WrapStreamingClient leaves outgoing streams alone.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler guards streams; their messages come later, so a
// streaming RPC's community is checked by its handler.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		client := clientAddress(conn.Peer().Addr, conn.RequestHeader().Values("X-Forwarded-For"), i.opts.Limits.TrustedProxies)
		ctx, cancel, err := i.admit(ctx, conn.Spec().Procedure, conn.RequestHeader().Get("Authorization"), client, nil, i.opts.StreamTimeout)
		if err != nil {
			return err
		}
		defer cancel()
		return next(ctx, conn)
	}
}

// admit decides one call from the client address client.
func (i *Interceptor) admit(ctx context.Context, procedure, authorization, client string, msg any, timeout time.Duration) (context.Context, context.CancelFunc, error) {
	rule, ok := i.opts.Policy[procedure]
	if !ok {
		i.opts.Logger.ErrorContext(ctx, "procedure has no policy entry; refusing", "procedure", procedure)
		return nil, nil, connect.NewError(connect.CodePermissionDenied, errors.New("this procedure is not open to anyone"))
	}
	credential, err := bearer(authorization)
	if err != nil {
		return nil, nil, connect.NewError(connect.CodeUnauthenticated, err)
	}
	var principal Principal
	authenticated := credential != ""
	if authenticated {
		if principal, err = i.authenticate(ctx, credential); err != nil {
			return nil, nil, err
		}
	} else if !rule.Public {
		return nil, nil, connect.NewError(connect.CodeUnauthenticated, errors.New("credentials required: send Authorization: Bearer <token or api key>"))
	}
	scope := ScopeNone
	if authenticated {
		if err := confine(principal, msg); err != nil {
			return nil, nil, err
		}
		scope = rule.scopeFor(principal)
		if scope == ScopeNone && !rule.Public {
			return nil, nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("roles %v may not call %s", principal.Roles, procedure))
		}
		ctx = WithPrincipal(ctx, principal, scope)
	}
	// Public endpoints are limited for the public: callers the rule grants
	// (organisers importing members, say) are not.
	if rule.Public && scope == ScopeNone {
		now := time.Now()
		if !i.byIP.allow(client, now) || (authenticated && !i.byToken.allow(string(principal.Kind)+":"+principal.Subject, now)) {
			return nil, nil, connect.NewError(connect.CodeResourceExhausted, errors.New("too many requests; slow down"))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, cancel, nil
}

func (i *Interceptor) authenticate(ctx context.Context, credential string) (Principal, error) {
	var p Principal
	var err error
	if IsAPIKey(credential) {
		if i.opts.Keys == nil {
			return p, connect.NewError(connect.CodeUnauthenticated, errors.New("api keys are not accepted here"))
		}
		p, err = i.opts.Keys.VerifyAPIKey(ctx, credential)
	} else {
		p, err = i.opts.Tokens.Verify(ctx, credential)
	}
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, ErrIssuerUnavailable) || connect.CodeOf(err) == connect.CodeUnavailable:
		i.opts.Logger.WarnContext(ctx, "cannot verify credentials", "error", err)
		return p, connect.NewError(connect.CodeUnavailable, errors.New("credentials cannot be verified right now; retry"))
	}
	return p, connect.NewError(connect.CodeUnauthenticated, err)
}

// confine keeps a principal in its community: a request naming another
// community is refused, and one naming none is given the principal's.
func confine(p Principal, msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil
	}
	refl := m.ProtoReflect()
	field := refl.Descriptor().Fields().ByName("community")
	if field == nil || field.Kind() != protoreflect.StringKind {
		return nil
	}
	named := refl.Get(field).String()
	switch {
	case p.crossCommunity():
		return nil
	case named == "":
		refl.Set(field, protoreflect.ValueOfString(p.Community))
		return nil
	case named != p.Community:
		return connect.NewError(connect.CodePermissionDenied, errors.New("your credentials are for another community"))
	}
	return nil
}

func bearer(header string) (string, error) {
	if header == "" {
		return "", nil
	}
	scheme, credential, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(credential) == "" {
		return "", errors.New("authorization header must be: Bearer <token or api key>")
	}
	return strings.TrimSpace(credential), nil
}
