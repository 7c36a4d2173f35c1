// Package smtpsink is the development mail server: it accepts every message
// on loopback, keeps it as an .eml file in a data folder (so a restart keeps
// them) and shows what it holds over HTTP, as pages and as JSON. It never
// relays anything.
package smtpsink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one received message as the HTTP API shows it.
type Message struct {
	ID         string    `json:"id"`
	MessageID  string    `json:"message_id"`
	From       string    `json:"from"`
	To         []string  `json:"to"`
	Subject    string    `json:"subject"`
	Text       string    `json:"text"`
	HTML       string    `json:"html,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Headers holds the headers tests look at, such as List-Unsubscribe.
	Headers map[string]string `json:"headers,omitempty"`
}

// keptHeaders are the headers the sink shows.
func keptHeaders() []string {
	return []string{"List-Unsubscribe", "List-Unsubscribe-Post", "X-Kinship-Community", "Content-Type"}
}

// MaxMessageBytes bounds one message.
const MaxMessageBytes = 10 << 20

// Sink is a running mail sink.
type Sink struct {
	dir    string
	logger *slog.Logger
	// Reject, when set, may refuse a recipient with an SMTP error (tests use
	// it to play a server that bounces).
	Reject func(rcpt string) *smtp.SMTPError

	mu       sync.Mutex
	messages []Message
	seq      int
}

// New returns a sink keeping messages in dir, loading those already there.
func New(dir string, logger *slog.Logger) (*Sink, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create mail folder: %w", err)
	}
	s := &Sink{dir: dir, logger: logger}
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", f, err)
		}
		info, _ := os.Stat(f)
		m, err := parse(strings.TrimSuffix(filepath.Base(f), ".eml"), raw, info.ModTime())
		if err != nil {
			logger.Warn("skipping unreadable stored message", "file", f, "error", err)
			continue
		}
		s.messages = append(s.messages, m)
		s.seq++
	}
	return s, nil
}

// ServeSMTP accepts mail on ln until ctx ends.
func (s *Sink) ServeSMTP(ctx context.Context, ln net.Listener) error {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{sink: s}, nil }))
	srv.Domain = "kinship-dev"
	srv.MaxMessageBytes = MaxMessageBytes
	srv.MaxRecipients = 100
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.AllowInsecureAuth = true
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("smtp sink: %w", err)
	case <-ctx.Done():
	}
	// Senders keep idle connections open for reuse; give a transfer in
	// flight a moment, then close the rest.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 500*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("smtp sink shutdown: %w", err)
	}
	if err := srv.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		return fmt.Errorf("smtp sink close: %w", err)
	}
	return nil
}

// Handler serves GET /api/messages (JSON, oldest first, ?to= filters by
// recipient), GET /api/messages/{id}.eml (the raw message), and pages for
// people: GET / (the messages, newest first) and GET /messages/{id}.
func (s *Sink) Handler() http.Handler {
	mux := http.NewServeMux()
	p := newPages(s)
	mux.HandleFunc("GET /{$}", p.list)
	mux.HandleFunc("GET /messages/{id}", p.message)
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Messages(r.URL.Query().Get("to")))
	})
	mux.HandleFunc("GET /api/messages/{file}", func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutSuffix(r.PathValue("file"), ".eml")
		if !ok || strings.ContainsAny(id, `/\.`) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "message/rfc822")
		http.ServeFile(w, r, filepath.Join(s.dir, id+".eml"))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

// Messages returns the messages received, oldest first; with to set, only
// those addressed to it.
func (s *Sink) Messages(to string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Message{}
	for _, m := range s.messages {
		if to == "" || containsFold(m.To, to) {
			out = append(out, m)
		}
	}
	return out
}

func (s *Sink) store(from string, to []string, raw []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("%s-%06d", time.Now().UTC().Format("20060102T150405"), s.seq)
	now := time.Now().UTC()
	m, err := parse(id, raw, now)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "message is not RFC 5322"}
	}
	m.From, m.To = from, to
	if err := os.WriteFile(filepath.Join(s.dir, id+".eml"), raw, 0o640); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot store message"}
	}
	s.messages = append(s.messages, m)
	s.logger.Info("smtp sink received message", "id", id, "message_id", m.MessageID, "recipients", len(to))
	return nil
}

func parse(id string, raw []byte, received time.Time) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	m := Message{
		ID:         id,
		MessageID:  strings.Trim(msg.Header.Get("Message-ID"), "<>"),
		From:       msg.Header.Get("From"),
		Subject:    subject,
		ReceivedAt: received,
		Headers:    map[string]string{},
	}
	for _, h := range keptHeaders() {
		if v := msg.Header.Get(h); v != "" {
			m.Headers[h] = v
		}
	}
	m.Text, m.HTML = readBodies(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if addrs, err := msg.Header.AddressList("To"); err == nil {
		for _, a := range addrs {
			m.To = append(m.To, a.Address)
		}
	}
	return m, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

type session struct {
	sink *Sink
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.sink.Reject != nil {
		if err := s.sink.Reject(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(r, MaxMessageBytes+1))
	if err != nil {
		return err
	}
	return s.sink.store(s.from, s.to, raw)
}
