// Package mail sends e-mail over SMTP with wneessen/go-mail: STARTTLS or
// implicit TLS, authentication, a bound on concurrent connections, DKIM
// signatures (emersion/go-msgauth) and a client span per message.
// Delivery errors say whether retrying can help; a message the server
// accepted is never reported failed, even when the session fails after.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Config says which SMTP server to use.
type Config struct {
	// URL is one of
	//
	//	smtp://[user:pass@]host[:25]            STARTTLS when offered
	//	smtp+starttls://[user:pass@]host[:587]  STARTTLS required
	//	smtps://[user:pass@]host[:465]          implicit TLS
	URL string
	// From is the sender, such as "Kinship <no-reply@example.org>".
	From string
	// MaxConnections bounds concurrent SMTP connections; 0 means 4.
	MaxConnections int
	// Timeout bounds one delivery; 0 means 30 s.
	Timeout time.Duration
	// DKIM, when set, signs every message.
	DKIM *DKIM
}

// Sender delivers messages over a bounded pool of reused SMTP
// connections.
type Sender struct {
	host    string
	port    int
	opts    []gomail.Option
	from    string
	slots   chan struct{}       // one per connection in use
	idle    chan *gomail.Client // connected and ready
	timeout time.Duration
	dkim    *DKIM
	tracer  trace.Tracer
}

// NewSender checks cfg and returns a Sender.
func NewSender(cfg Config, tp trace.TracerProvider) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, errors.New("smtp url is not a URL with a host")
	}
	if cfg.From == "" {
		return nil, errors.New("smtp sender address is empty")
	}
	if err := gomail.NewMsg().From(cfg.From); err != nil {
		return nil, fmt.Errorf("smtp sender address: %w", err)
	}
	var opts []gomail.Option
	defaultPort := 25
	switch u.Scheme {
	case "smtp":
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSOpportunistic))
	case "smtp+starttls":
		defaultPort = 587
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSMandatory))
	case "smtps":
		defaultPort = 465
		opts = append(opts, gomail.WithSSLPort(false))
	default:
		return nil, fmt.Errorf("smtp url scheme %q is not smtp, smtp+starttls or smtps", u.Scheme)
	}
	port := defaultPort
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("smtp url port %q is not a port", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if user := u.User.Username(); user != "" {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(user), gomail.WithPassword(pass))
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = 4
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	// No NOOP before each message on a reused connection: it costs a round
	// trip per message, and a connection the server closed while idle is
	// found by the send itself, which send retries once on a new one. No
	// RSET after each accepted message either: the server's reply to DATA
	// ends the mail transaction (RFC 5321 4.1.1.4), so the next MAIL FROM
	// starts a new one; after a failed transaction go-mail still resets,
	// and send closes the connection on any error anyway.
	opts = append(opts, gomail.WithTimeout(cfg.Timeout), gomail.WithoutNoop(), gomail.WithoutRset())
	if cfg.DKIM != nil {
		if err := cfg.DKIM.validate(); err != nil {
			return nil, err
		}
	}
	return &Sender{
		host: u.Hostname(), port: port, opts: opts, from: cfg.From,
		slots: make(chan struct{}, cfg.MaxConnections), idle: make(chan *gomail.Client, cfg.MaxConnections), timeout: cfg.Timeout, dkim: cfg.DKIM,
		tracer: tp.Tracer("github.com/kinshiphq/kinship/internal/mail"),
	}, nil
}

// Close closes the idle connections.
func (s *Sender) Close() {
	for {
		select {
		case c := <-s.idle:
			_ = c.Close()
		default:
			return
		}
	}
}

// Envelope is one message to one recipient: plain text, with an optional
// HTML alternative.
type Envelope struct {
	// MessageID becomes the Message-ID header, without angle brackets.
	MessageID string
	To        string
	Subject   string
	Text      string
	HTML      string
	// Headers are extra headers, such as List-Unsubscribe.
	Headers map[string]string
	// BeforeHandOff, when set, runs once a connection to the server is
	// ready (connected, greeted, secured, authenticated) and right before
	// the message is handed over (MAIL FROM, RCPT TO, DATA): the last
	// moment before the server may accept it. An error stops the send;
	// Send returns it, and nothing was handed over.
	BeforeHandOff func(context.Context) error
}

// DeliveryError is a failed delivery.
type DeliveryError struct {
	// Temporary is true when the same message may succeed later (a 4xx
	// reply, a refused or broken connection); false when the server refused
	// it for good (a 5xx reply).
	Temporary bool
	Err       error
}

func (e *DeliveryError) Error() string { return e.Err.Error() }
func (e *DeliveryError) Unwrap() error { return e.Err }

// Send delivers env and returns nil once the server accepted it.
func (s *Sender) Send(ctx context.Context, env Envelope) error {
	ctx, span := s.tracer.Start(ctx, "smtp send", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("server.address", s.host),
		attribute.Int("server.port", s.port),
		attribute.String("kinship.message.id", env.MessageID),
	))
	defer span.End()
	err := s.send(ctx, env)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "delivery failed")
	}
	return err
}

func (s *Sender) send(ctx context.Context, env Envelope) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return &DeliveryError{Err: fmt.Errorf("sender address: %w", err)}
	}
	if err := msg.To(env.To); err != nil {
		return &DeliveryError{Err: errors.New("recipient address is not valid")}
	}
	msg.Subject(env.Subject)
	msg.SetMessageIDWithValue(env.MessageID)
	msg.SetDate()
	for k, v := range env.Headers {
		msg.SetGenHeader(gomail.Header(k), v)
	}
	msg.SetBodyString(gomail.TypeTextPlain, env.Text)
	if env.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, env.HTML)
	}
	if s.dkim != nil {
		if err := s.dkim.sign(msg); err != nil {
			// A signing failure is ours, not the message's: retry later.
			return &DeliveryError{Temporary: true, Err: err}
		}
	}

	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return &DeliveryError{Temporary: true, Err: ctx.Err()}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	client, reused, err := s.connection(ctx)
	if err != nil {
		return &DeliveryError{Temporary: true, Err: fmt.Errorf("connect to %s:%d: %w", s.host, s.port, err)}
	}
	if env.BeforeHandOff != nil {
		if err := env.BeforeHandOff(ctx); err != nil {
			s.keep(client)
			return &DeliveryError{Temporary: true, Err: err}
		}
	}
	err = client.Send(msg)
	if err != nil && reused && !msg.IsDelivered() && isTemporary(err) {
		// The server may have closed the idle connection: once more on a
		// new one.
		_ = client.Close()
		if client, _, err = s.dial(ctx); err != nil {
			return &DeliveryError{Temporary: true, Err: fmt.Errorf("connect to %s:%d: %w", s.host, s.port, err)}
		}
		err = client.Send(msg)
	}
	switch {
	case err != nil && msg.IsDelivered():
		// The server accepted the message (250 after DATA); only what
		// followed, resetting the session, failed. The message is out:
		// reporting a failure would have it sent twice.
		_ = client.Close()
		return nil
	case err != nil:
		_ = client.Close()
		return &DeliveryError{Temporary: isTemporary(err), Err: fmt.Errorf("deliver to %s:%d: %w", s.host, s.port, err)}
	}
	s.keep(client)
	return nil
}

// keep returns a connection to the idle pool, or closes it when the pool
// is full.
func (s *Sender) keep(client *gomail.Client) {
	select {
	case s.idle <- client:
	default:
		_ = client.Close()
	}
}

// connection returns an idle connection or a new one, and whether it was
// reused.
func (s *Sender) connection(ctx context.Context) (*gomail.Client, bool, error) {
	select {
	case c := <-s.idle:
		return c, true, nil
	default:
		return s.dial(ctx)
	}
}

func (s *Sender) dial(ctx context.Context) (*gomail.Client, bool, error) {
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return nil, false, err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return nil, false, err
	}
	return c, false, nil
}

// isTemporary says whether a go-mail error may go away: anything but a 5xx
// reply, since failing to reach, greet or authenticate to the server says
// nothing about the message.
func isTemporary(err error) bool {
	var sendErr *gomail.SendError
	if errors.As(err, &sendErr) {
		code := sendErr.ErrorCode()
		return code < 500 || code >= 600
	}
	return true
}
