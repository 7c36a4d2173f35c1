package external

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Keys of a TLS Secret in the cert-manager layout, which is also what the
// operator copies into an instance's namespace.
const (
	// TLSCAKey holds a PEM bundle of the CAs that sign the server's
	// certificate.
	TLSCAKey = "ca.crt"
	// TLSCertKey and TLSKeyKey hold a PEM client certificate and its key,
	// presented for mutual TLS.
	TLSCertKey = "tls.crt"
	TLSKeyKey  = "tls.key"
)

// TLS is how a client protects its connection to a server, as PEM read
// from a Secret. The zero value trusts the system's CAs, presents no
// certificate and checks the server against the host it is reached at.
type TLS struct {
	// CA is a PEM bundle of the CAs that sign the server's certificate;
	// empty trusts the system's.
	CA []byte
	// Cert and Key are a PEM client certificate and its key, presented to
	// servers that ask for one (mutual TLS); both or neither.
	Cert, Key []byte
	// ServerName is the name the server's certificate must carry; empty
	// takes the host of the address dialled.
	ServerName string
}

// TLSFromSecret reads the cert-manager layout (ca.crt, tls.crt, tls.key)
// from a Secret's data and checks it. what names the Secret in errors,
// which never quote its contents.
func TLSFromSecret(what string, data map[string][]byte, serverName string) (*TLS, error) {
	t := &TLS{CA: data[TLSCAKey], Cert: data[TLSCertKey], Key: data[TLSKeyKey], ServerName: serverName}
	if len(t.CA) == 0 && len(t.Cert) == 0 && len(t.Key) == 0 {
		return nil, fmt.Errorf("%s has none of the keys %s, %s and %s", what, TLSCAKey, TLSCertKey, TLSKeyKey)
	}
	if _, err := t.Config(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return t, nil
}

// Config builds the client TLS configuration (TLS 1.2 or newer).
func (t *TLS) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	var errs []error
	if len(t.CA) > 0 {
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(t.CA) {
			errs = append(errs, fmt.Errorf("%s holds no PEM certificate", TLSCAKey))
		}
	}
	switch {
	case len(t.Cert) > 0 && len(t.Key) == 0:
		errs = append(errs, fmt.Errorf("client certificate %s needs its key %s too", TLSCertKey, TLSKeyKey))
	case len(t.Cert) == 0 && len(t.Key) > 0:
		errs = append(errs, fmt.Errorf("key %s needs its client certificate %s too", TLSKeyKey, TLSCertKey))
	case len(t.Cert) > 0:
		cert, err := tls.X509KeyPair(t.Cert, t.Key)
		if err != nil {
			// The error of X509KeyPair never quotes the key.
			errs = append(errs, fmt.Errorf("client certificate %s and key %s: %w", TLSCertKey, TLSKeyKey, err))
		} else {
			cfg.Certificates = []tls.Certificate{cert}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// SASL is how a client authenticates to Kafka.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string
	Username  string
	Password  string
}

// mechanism returns kafka-go's implementation of s.
func (s *SASL) mechanism() (sasl.Mechanism, error) {
	if s.Username == "" || s.Password == "" {
		return nil, fmt.Errorf("SASL %s needs a user name and a password", s.Mechanism)
	}
	switch s.Mechanism {
	case "PLAIN":
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		algo := scram.SHA256
		if s.Mechanism == "SCRAM-SHA-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.Username, s.Password)
		if err != nil { // SASLprep refused them; neither is repeated here
			return nil, fmt.Errorf("SASL %s: the user name or password is not valid SASLprep text", s.Mechanism)
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
}

// KafkaCluster is a Kafka cluster as a client reaches it.
type KafkaCluster struct {
	// Brokers are the bootstrap servers, host:port.
	Brokers []string
	// TLS, when set, encrypts every connection; nil is plaintext.
	TLS *TLS
	// SASL, when set, authenticates every connection, after TLS when both
	// are set.
	SASL *SASL
}

// Protocol names how clients reach the cluster as Kafka names a
// listener's security protocol, such as "SASL_SSL with SCRAM-SHA-512".
func (k KafkaCluster) Protocol() string {
	switch {
	case k.TLS != nil && k.SASL != nil:
		return "SASL_SSL with " + k.SASL.Mechanism
	case k.SASL != nil:
		return "SASL_PLAINTEXT with " + k.SASL.Mechanism
	case k.TLS != nil:
		return "SSL"
	}
	return "PLAINTEXT"
}

// explain adds a hint to the bare EOF a refused connection often ends in:
// a broker drops a client whose TLS, SASL mechanism or credentials it does
// not accept.
func (k KafkaCluster) explain(err error) error {
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	hint := "check that the brokers' listener is " + k.Protocol()
	if k.SASL != nil {
		hint += " and that the SASL user name and password are right"
	}
	return fmt.Errorf("%w (the broker closed the connection; %s)", err, hint)
}

// TemporalCluster is a Temporal frontend as a client reaches it.
type TemporalCluster struct {
	// Address is the frontend's host:port.
	Address string
	// TLS, when set, encrypts the connection; nil is plaintext.
	TLS *TLS
}

// key identifies the connection settings: the address and a digest of
// the TLS material, so that new material gets a new connection.
func (t TemporalCluster) key() string {
	if t.TLS == nil {
		return t.Address
	}
	h := sha256.New()
	for _, b := range [][]byte{t.TLS.CA, t.TLS.Cert, t.TLS.Key, []byte(t.TLS.ServerName)} {
		h.Write([]byte(strconv.Itoa(len(b)) + ":"))
		h.Write(b)
	}
	return t.Address + " tls:" + hex.EncodeToString(h.Sum(nil))[:16]
}
