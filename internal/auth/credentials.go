package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
)

// TokenSource gives a workload the bearer token it presents to other
// Kinship services.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a TokenSource presenting one token, such as an API key
// given to a script.
type StaticToken string

// Token returns the token.
func (s StaticToken) Token(context.Context) (string, error) { return string(s), nil }

// FileTokenSource reads the token from a file that something else keeps
// fresh, such as a Kubernetes projected service-account token. The file is
// read again at most every 30 s.
type FileTokenSource struct {
	path string

	mu    sync.Mutex
	token string
	read  time.Time
}

// NewFileTokenSource reads tokens from path.
func NewFileTokenSource(path string) *FileTokenSource { return &FileTokenSource{path: path} }

// Token returns the file's token.
func (s *FileTokenSource) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && time.Since(s.read) < 30*time.Second {
		return s.token, nil
	}
	raw, err := os.ReadFile(s.path)
	if err != nil {
		return "", fmt.Errorf("read workload token: %w", err)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return "", errors.New("workload token file is empty")
	}
	s.token, s.read = tok, time.Now()
	return tok, nil
}

// ClientInterceptor sends the workload's token on every outgoing call.
type ClientInterceptor struct {
	source TokenSource
}

// NewClientInterceptor authenticates outgoing calls with source's tokens.
func NewClientInterceptor(source TokenSource) *ClientInterceptor {
	return &ClientInterceptor{source: source}
}

// WrapUnary adds the Authorization header.
func (c *ClientInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			tok, err := c.source.Token(ctx)
			if err != nil {
				return nil, connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("workload credentials: %w", err))
			}
			req.Header().Set("Authorization", "Bearer "+tok)
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient adds the Authorization header to streams.
func (c *ClientInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if tok, err := c.source.Token(ctx); err == nil {
			conn.RequestHeader().Set("Authorization", "Bearer "+tok)
		}
		return conn
	}
}

// WrapStreamingHandler leaves incoming streams alone.
func (c *ClientInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
