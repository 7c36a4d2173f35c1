package smtpsink_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/kinshiphq/kinship/internal/smtpsink"
)

func startSink(t *testing.T, dir string) (*smtpsink.Sink, string) {
	t.Helper()
	sink, err := smtpsink.New(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
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

func TestSinkKeepsMessagesAcrossRestartAndListsThem(t *testing.T) {
	dir := t.TempDir()
	sink, addr := startSink(t, dir)
	env := struct{ MessageID, Subject string }{"m-1@kinship.test", "Welcome to démo"}
	raw := "From: Kinship <no-reply@kinship.test>\r\nTo: ada@example.org\r\nSubject: =?utf-8?q?Welcome_to_d=C3=A9mo?=\r\n" +
		"Message-ID: <m-1@kinship.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Ada,\r\nwelcome.\r\n"
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("no-reply@kinship.test", []string{"ada@example.org"}, strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	got := sink.Messages("ADA@example.org")
	if len(got) != 1 {
		t.Fatalf("messages to ada = %d, want 1", len(got))
	}
	m := got[0]
	if m.MessageID != env.MessageID || m.Subject != env.Subject || !strings.Contains(m.Text, "welcome.") || m.To[0] != "ada@example.org" {
		t.Errorf("received %+v", m)
	}
	if other := sink.Messages("bob@example.org"); len(other) != 0 {
		t.Errorf("messages to bob = %d, want 0", len(other))
	}

	reloaded, err := smtpsink.New(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if again := reloaded.Messages(""); len(again) != 1 || again[0].MessageID != env.MessageID {
		t.Errorf("after restart the sink holds %+v", again)
	}

	srv := httptest.NewServer(reloaded.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/api/messages?to=ada@example.org")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var listed []smtpsink.Message
	if err := json.NewDecoder(res.Body).Decode(&listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Subject != env.Subject {
		t.Errorf("GET /api/messages = %+v", listed)
	}
}

func TestSinkPagesShowMessagesWithoutRunningThem(t *testing.T) {
	sink, addr := startSink(t, t.TempDir())
	raw := "From: Kinship <no-reply@kinship.test>\r\nTo: ada@example.org\r\nSubject: Welcome <b>Ada</b>\r\n" +
		"Message-ID: <m-2@kinship.test>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>Ada</b></p><script>alert(1)</script><img src=\"https://tracker.example/p.gif\">\r\n"
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("no-reply@kinship.test", []string{"ada@example.org"}, strings.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	srv := httptest.NewServer(sink.Handler())
	defer srv.Close()
	id := sink.Messages("")[0].ID
	tests := []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{`href="/messages/` + id + `"`, "Welcome &lt;b&gt;Ada&lt;/b&gt;", "ada@example.org"}},
		{"/?to=bob@example.org", 200, []string{"No message yet"}},
		{"/messages/" + id, 200, []string{`<iframe sandbox`, `srcdoc="&lt;p&gt;Hello &lt;b&gt;Ada&lt;/b&gt;&lt;/p&gt;&lt;script&gt;`, "/api/messages/" + id + ".eml"}},
		{"/messages/nope", 404, []string{"No message nope here"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := srv.Client().Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Errorf("GET %s = %d, want %d", tt.path, res.StatusCode, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("GET %s lacks %s:\n%s", tt.path, w, body)
				}
			}
			if strings.Contains(string(body), "<script>") || strings.Contains(string(body), "<b>Ada") {
				t.Errorf("GET %s puts the message's markup into the page:\n%s", tt.path, body)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("GET %s has no strict content policy: %q", tt.path, csp)
			}
		})
	}
}
