package devstack

import (
	"fmt"
	"net"
	"strconv"
)

// listeners are bound up front, so a taken port fails the start with a
// clear message before anything else runs.
type listeners struct {
	members, communications, events, partners, worker, smtp, mailHTTP, issuer net.Listener
	console                                                                   net.Listener
	insights                                                                  net.Listener
	traces                                                                    net.Listener
}

func (l *listeners) close() {
	for _, ln := range []net.Listener{l.members, l.communications, l.events, l.partners, l.worker, l.smtp, l.mailHTTP, l.issuer, l.console, l.insights, l.traces} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// resolvePorts binds the HTTP and SMTP listeners and picks free ports for
// Temporal, its Web UI and Kafka where cfg says 0.
func resolvePorts(cfg *Config) (*listeners, error) {
	l := &listeners{}
	bind := func(name string, port int) (net.Listener, error) {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			l.close()
			return nil, fmt.Errorf("dev: %s port %d: %w (is another kinship dev running?)", name, port, err)
		}
		return ln, nil
	}
	var err error
	if l.members, err = bind("members", cfg.MembersPort); err != nil {
		return nil, err
	}
	if l.communications, err = bind("communications", cfg.CommunicationsPort); err != nil {
		return nil, err
	}
	if l.events, err = bind("events", cfg.EventsPort); err != nil {
		return nil, err
	}
	if l.partners, err = bind("partners", cfg.PartnersPort); err != nil {
		return nil, err
	}
	if l.worker, err = bind("worker", cfg.WorkerPort); err != nil {
		return nil, err
	}
	if l.smtp, err = bind("smtp", cfg.SMTPPort); err != nil {
		return nil, err
	}
	if l.mailHTTP, err = bind("mail http", cfg.MailHTTPPort); err != nil {
		return nil, err
	}
	if l.issuer, err = bind("token issuer", cfg.IssuerPort); err != nil {
		return nil, err
	}
	if l.insights, err = bind("insights", cfg.InsightsPort); err != nil {
		return nil, err
	}
	if l.console, err = bind("console", cfg.ConsolePort); err != nil {
		return nil, err
	}
	if l.traces, err = bind("trace viewer", cfg.TracesPort); err != nil {
		return nil, err
	}
	// The Temporal Web UI binds by itself later: its port is only checked.
	if cfg.TemporalUIPort != 0 {
		ln, err := bind("temporal ui", cfg.TemporalUIPort)
		if err != nil {
			return nil, err
		}
		_ = ln.Close()
	}
	for _, p := range []*int{&cfg.TemporalPort, &cfg.KafkaPort, &cfg.TemporalUIPort} {
		if *p == 0 {
			if *p, err = freePort(host); err != nil {
				l.close()
				return nil, err
			}
		}
	}
	return l, nil
}
