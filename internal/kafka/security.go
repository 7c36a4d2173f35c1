package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Security is how every Kafka client Kinship makes protects its
// connections. The zero value is plaintext without authentication, which is
// what the in-process development broker speaks.
type Security struct {
	// TLS, when set, encrypts every connection and verifies the brokers
	// with it; a certificate in it is presented to brokers that ask for
	// one (mutual TLS). An empty ServerName is taken from each broker's
	// address.
	TLS *tls.Config
	// SASL, when set, authenticates every connection, after TLS when both
	// are set.
	SASL sasl.Mechanism
}

// IsZero reports whether s is plaintext without authentication.
func (s Security) IsZero() bool { return s.TLS == nil && s.SASL == nil }

// String names s as Kafka names a listener's security protocol, with the
// SASL mechanism and without secrets, such as "SASL_SSL with SCRAM-SHA-512".
func (s Security) String() string {
	switch {
	case s.TLS != nil && s.SASL != nil:
		return "SASL_SSL with " + s.SASL.Name()
	case s.SASL != nil:
		return "SASL_PLAINTEXT with " + s.SASL.Name()
	case s.TLS != nil:
		return "SSL"
	}
	return "PLAINTEXT"
}

// transport returns a transport carrying s for writers and admin clients,
// or nil — kafka-go's shared default transport — when s is the zero value.
// The caller owns a transport it gets and releases it with
// CloseIdleConnections.
func (s Security) transport() *kafkago.Transport {
	if s.IsZero() {
		return nil
	}
	return &kafkago.Transport{
		Dial:        (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		DialTimeout: 10 * time.Second, // includes the TLS handshake and SASL
		TLS:         s.TLS,
		SASL:        s.SASL,
	}
}

// dialer returns a dialer carrying s for consumer-group readers, or nil —
// kafka-go's default dialer — when s is the zero value.
func (s Security) dialer() *kafkago.Dialer {
	if s.IsZero() {
		return nil
	}
	return &kafkago.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: s.TLS, SASLMechanism: s.SASL}
}

// explain adds a hint to the bare EOF that a refused connection often
// ends in: a broker drops a client whose TLS, SASL mechanism or
// credentials it does not accept.
func (s Security) explain(err error) error {
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	hint := "check that the broker's listener is " + s.String()
	if s.SASL != nil {
		hint += " and that the SASL user name and password are right"
	}
	return fmt.Errorf("%w (the broker closed the connection; %s)", err, hint)
}
