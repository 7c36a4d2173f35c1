package mail_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kinshiphq/kinship/internal/mail"
	"github.com/kinshiphq/kinship/internal/smtpsink"
)

func startSink(t *testing.T, dir string, reject func(string) *smtp.SMTPError) (*smtpsink.Sink, string) {
	t.Helper()
	sink, err := smtpsink.New(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sink.Reject = reject
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.ServeSMTP(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeSMTP: %v", err)
		}
	})
	return sink, ln.Addr().String()
}

func sender(t *testing.T, addr string) *mail.Sender {
	t.Helper()
	s, err := mail.NewSender(mail.Config{URL: "smtp://" + addr, From: "Kinship <no-reply@kinship.test>"}, noop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSenderTellsPermanentFromTemporaryFailures(t *testing.T) {
	_, addr := startSink(t, t.TempDir(), func(rcpt string) *smtp.SMTPError {
		switch {
		case strings.HasPrefix(rcpt, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case strings.HasPrefix(rcpt, "full@"):
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
		}
		return nil
	})
	s := sender(t, addr)
	tests := map[string]bool{"gone@example.org": false, "full@example.org": true}
	for to, wantTemporary := range tests {
		err := s.Send(context.Background(), mail.Envelope{MessageID: "x@kinship.test", To: to, Subject: "s", Text: "t"})
		var de *mail.DeliveryError
		if !errors.As(err, &de) {
			t.Fatalf("Send to %s error = %v, want a DeliveryError", to, err)
		}
		if de.Temporary != wantTemporary {
			t.Errorf("Send to %s: Temporary = %v, want %v (%v)", to, de.Temporary, wantTemporary, err)
		}
	}

	closed := sender(t, "127.0.0.1:1")
	err := closed.Send(context.Background(), mail.Envelope{MessageID: "x@kinship.test", To: "ada@example.org", Subject: "s", Text: "t"})
	var de *mail.DeliveryError
	if !errors.As(err, &de) || !de.Temporary {
		t.Errorf("Send to a closed port = %v, want a temporary DeliveryError", err)
	}
}

func TestNewSenderRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]mail.Config{
		"no host":    {URL: "smtp://", From: "a@example.org"},
		"bad scheme": {URL: "http://mail.example.org", From: "a@example.org"},
		"bad port":   {URL: "smtp://mail.example.org:99999", From: "a@example.org"},
		"no from":    {URL: "smtp://mail.example.org"},
	} {
		if _, err := mail.NewSender(cfg, noop.NewTracerProvider()); err == nil {
			t.Errorf("%s: NewSender accepted %+v", name, cfg)
		}
	}
}

func TestSenderReusesConnectionsAndSendsHTML(t *testing.T) {
	sink, addr := startSink(t, t.TempDir(), nil)
	var conns atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A counting proxy in front of the sink tells how many connections the
	// sender opened.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			up, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	s := sender(t, ln.Addr().String())
	defer s.Close()
	for i := range 20 {
		env := mail.Envelope{MessageID: fmt.Sprintf("m-%d@kinship.test", i), To: "ada@example.org", Subject: "Hi", Text: "plain", HTML: "<p>rich</p>"}
		if err := s.Send(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 sequential sends opened %d connections, want 1", n)
	}
	msgs := sink.Messages("ada@example.org")
	if len(msgs) != 20 {
		t.Fatalf("sink got %d messages", len(msgs))
	}
	if m := msgs[0]; strings.TrimSpace(m.Text) != "plain" || strings.TrimSpace(m.HTML) != "<p>rich</p>" || !strings.HasPrefix(m.Headers["Content-Type"], "multipart/alternative") {
		t.Errorf("multipart message read as %+v", m)
	}
}
