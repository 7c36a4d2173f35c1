package mail_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kinshiphq/kinship/internal/mail"
)

// BeforeHandOff runs once a connection is ready and before anything of the
// message reaches the server; its error stops the send.
func TestBeforeHandOff(t *testing.T) {
	sink, addr := startSink(t, t.TempDir(), nil)
	errMark := errors.New("could not mark the message sending")
	for _, c := range []struct {
		name      string
		to        string
		addr      string
		hook      error
		calls     int32
		delivered int
		wantErr   error // nil: Send succeeds
	}{
		{name: "runs once, before the server has the message", to: "ada@example.org", addr: addr, calls: 1, delivered: 1},
		{name: "its error stops the send", to: "bob@example.org", addr: addr, hook: errMark, calls: 1, wantErr: errMark},
		{name: "does not run when the server cannot be reached", to: "cy@example.org", addr: "127.0.0.1:1", calls: 0, wantErr: errors.New("any")},
	} {
		t.Run(c.name, func(t *testing.T) {
			to := c.to
			var calls atomic.Int32
			before := -1
			env := mail.Envelope{MessageID: "h@kinship.test", To: to, Subject: "s", Text: "t", BeforeHandOff: func(context.Context) error {
				calls.Add(1)
				before = len(sink.Messages(to))
				return c.hook
			}}
			err := sender(t, c.addr).Send(context.Background(), env)
			switch {
			case c.wantErr == nil && err != nil:
				t.Fatalf("Send = %v", err)
			case c.wantErr != nil && err == nil:
				t.Fatal("Send succeeded, want an error")
			case c.wantErr == errMark && !errors.Is(err, errMark):
				t.Errorf("Send = %v, want the hook's error", err)
			}
			var de *mail.DeliveryError
			if err != nil && (!errors.As(err, &de) || !de.Temporary) {
				t.Errorf("Send = %v, want a temporary DeliveryError", err)
			}
			if n := calls.Load(); n != c.calls {
				t.Errorf("BeforeHandOff ran %d times, want %d", n, c.calls)
			}
			if c.calls > 0 && before != 0 {
				t.Errorf("the server had %d copies when BeforeHandOff ran, want none", before)
			}
			if n := len(sink.Messages(to)); n != c.delivered {
				t.Errorf("the server got %d copies, want %d", n, c.delivered)
			}
		})
	}
}

// scriptedServer is an SMTP server that accepts every message; with
// dropAfterAccept it closes the connection right after its 250, as a
// server that stops then would. It counts the messages it accepted and
// the RSET commands it was sent.
func scriptedServer(t *testing.T, dropAfterAccept bool) (addr string, accepted, resets *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted, resets = &atomic.Int32{}, &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveScript(c, dropAfterAccept, accepted, resets)
		}
	}()
	return ln.Addr().String(), accepted, resets
}

func serveScript(c net.Conn, dropAfterAccept bool, accepted, resets *atomic.Int32) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 scripted ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-scripted")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "DATA"):
			say("354 go ahead")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			accepted.Add(1)
			say("250 accepted")
			if dropAfterAccept {
				return // gone right after accepting
			}
		case strings.HasPrefix(cmd, "RSET"):
			resets.Add(1)
			say("250 ok")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default: // HELO, NOOP, MAIL, RCPT
			say("250 ok")
		}
	}
}

// A message the server accepted is reported sent even when the connection
// is gone right after the 250, and the next message goes over a new one:
// reporting a failure would have it sent twice.
func TestAnAcceptedMessageIsSentOnceWhenTheSessionThenFails(t *testing.T) {
	addr, accepted, _ := scriptedServer(t, true)
	s := sender(t, addr)
	defer s.Close()
	for i := range 3 { // each after the first finds its reused connection dropped
		if err := s.Send(context.Background(), mail.Envelope{MessageID: "once@kinship.test", To: "ada@example.org", Subject: "s", Text: "t"}); err != nil {
			t.Fatalf("send %d = %v, want nil: the server accepted it", i+1, err)
		}
		if n := accepted.Load(); n != int32(i+1) {
			t.Fatalf("after send %d the server accepted %d copies, want %d", i+1, n, i+1)
		}
	}
}

// Messages on a reused connection follow one another without a RSET (a
// round trip per message): the server's reply to DATA ends each
// transaction.
func TestAcceptedMessagesAreNotFollowedByAReset(t *testing.T) {
	addr, accepted, resets := scriptedServer(t, false)
	s := sender(t, addr)
	defer s.Close()
	const n = 5
	for i := range n {
		if err := s.Send(context.Background(), mail.Envelope{MessageID: "r@kinship.test", To: "ada@example.org", Subject: "s", Text: "t"}); err != nil {
			t.Fatalf("send %d = %v", i+1, err)
		}
	}
	if got := accepted.Load(); got != n {
		t.Errorf("the server accepted %d messages, want %d", got, n)
	}
	if got := resets.Load(); got != 0 {
		t.Errorf("the server was sent %d RSET commands, want none", got)
	}
}
