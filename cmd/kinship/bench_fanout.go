//go:build !nodev

package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// benchSMTPConnections is the communications service's default
// SMTP_MAX_CONNECTIONS, which the announcement runs with.
const benchSMTPConnections = 4

// benchRawSMTP is the ceiling of the announcement's SMTP path: n messages
// rendered beforehand, of the shape and size the service sends (text and
// HTML alternatives, a one-click unsubscribe link), sent over conns
// reused connections to the same sink, with no database, template or
// consent check. It returns how long until the sink counted the last.
func benchRawSMTP(ctx context.Context, addr string, sink *countingSink, n, conns int) (time.Duration, error) {
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = benchRenderedMail(i)
	}
	before := sink.count.Load()
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			fail := func(err error) {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			c, err := smtp.Dial(addr)
			if err != nil {
				fail(err)
				return
			}
			defer c.Close()
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				if err := c.SendMail("no-reply@kinship.bench", []string{fmt.Sprintf("member%07d@example.org", i)}, bytes.NewReader(msgs[i])); err != nil {
					fail(fmt.Errorf("send %d: %w", i, err))
					return
				}
			}
			_ = c.Quit()
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("bench: raw SMTP: %w", firstErr)
	}
	if got := sink.count.Load() - before; got != int64(n) {
		return 0, fmt.Errorf("bench: raw SMTP: the sink counted %d of %d messages", got, n)
	}
	return sink.lastAt().Sub(start), ctx.Err()
}

// benchRenderedMail is a message as the service renders an announcement
// for member i.
func benchRenderedMail(i int) []byte {
	var b bytes.Buffer
	to := fmt.Sprintf("member%07d@example.org", i)
	unsubscribe := fmt.Sprintf("http://127.0.0.1/unsubscribe?m=m%07d&c=demo&p=email.announcements&sig=%064x", i, i)
	fmt.Fprintf(&b, "From: Kinship <no-reply@kinship.bench>\r\nTo: %s\r\nSubject: News from demo for Member %d\r\n", to, i)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <bench-%d@kinship.bench>\r\nMIME-Version: 1.0\r\n", time.Now().UTC().Format(time.RFC1123Z), i)
	fmt.Fprintf(&b, "List-Unsubscribe: <%s>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", unsubscribe)
	b.WriteString("Content-Type: multipart/alternative; boundary=\"kinship-bench\"\r\n\r\n")
	fmt.Fprintf(&b, "--kinship-bench\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
		"Hello Member %d,\r\n\r\nThe repair caf=C3=A9 opens on Saturday.\r\n\r\nUnsubscribe: %s\r\n", i, unsubscribe)
	fmt.Fprintf(&b, "--kinship-bench\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
		"<p>Hello Member %d,</p><p>The repair caf=C3=A9 opens on Saturday.</p><p><a href=3D\"%s\">Unsubscribe</a></p>\r\n--kinship-bench--\r\n", i, unsubscribe)
	return b.Bytes()
}
