package chaos

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/emersion/go-smtp"

	"github.com/kinshiphq/kinship/internal/smtpsink"
)

// mailSink is the mail server of the topology: the dev stack's sink, run
// by the harness, which can make it refuse every recipient for a while.
type mailSink struct {
	sink    *smtpsink.Sink
	ln      net.Listener
	refuse  atomic.Bool
	stop    context.CancelFunc
	stopped chan struct{}
}

func startMailSink(dir string) (*mailSink, error) {
	sink, err := smtpsink.New(dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &mailSink{sink: sink, ln: ln, stopped: make(chan struct{})}
	sink.Reject = func(string) *smtp.SMTPError {
		if m.refuse.Load() {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "chaos: try again later"}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	go func() {
		defer close(m.stopped)
		_ = sink.ServeSMTP(ctx, ln)
	}()
	return m, nil
}

func (m *mailSink) addr() string { return m.ln.Addr().String() }

func (m *mailSink) messages() []smtpsink.Message { return m.sink.Messages("") }

func (m *mailSink) close() {
	m.stop()
	<-m.stopped
}
