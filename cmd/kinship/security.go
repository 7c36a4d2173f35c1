package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/kinshiphq/kinship/internal/kafka"
)

// SASL mechanisms Kinship's Kafka clients speak.
const (
	saslPlain       = "PLAIN"
	saslSCRAMSHA256 = "SCRAM-SHA-256"
	saslSCRAMSHA512 = "SCRAM-SHA-512"
)

// kafkaSecuritySettings are the Kafka connection settings every component
// shares, as given; build reads the files they name.
type kafkaSecuritySettings struct {
	tls                                   bool
	caFile, certFile, keyFile, serverName string
	saslMechanism, saslUsername           string
	saslPasswordFile                      string
}

// defineKafkaSecurity adds the Kafka TLS and SASL settings.
func defineKafkaSecurity(f *flags, s *kafkaSecuritySettings) error {
	f.string(&s.caFile, "kafka-tls-ca-file", "KAFKA_TLS_CA_FILE", "", "PEM bundle of the CAs that sign the brokers' certificates; unset trusts the system's")
	f.string(&s.certFile, "kafka-tls-cert-file", "KAFKA_TLS_CERT_FILE", "", "PEM client certificate presented to the brokers (mutual TLS)")
	f.string(&s.keyFile, "kafka-tls-key-file", "KAFKA_TLS_KEY_FILE", "", "PEM private key of the client certificate")
	f.string(&s.serverName, "kafka-tls-server-name", "KAFKA_TLS_SERVER_NAME", "", "name the brokers' certificates must carry; unset takes each broker's host")
	f.string(&s.saslMechanism, "kafka-sasl-mechanism", "KAFKA_SASL_MECHANISM", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; unset means no SASL")
	f.string(&s.saslUsername, "kafka-sasl-username", "KAFKA_SASL_USERNAME", "", "SASL user name")
	f.string(&s.saslPasswordFile, "kafka-sasl-password-file", "KAFKA_SASL_PASSWORD_FILE", "", "file holding the SASL password")
	return f.bool(&s.tls, "kafka-tls", "KAFKA_TLS", false, "connect to the brokers over TLS")
}

// configured reports whether any setting was given.
func (s kafkaSecuritySettings) configured() bool {
	return s != kafkaSecuritySettings{}
}

// build reads the files the settings name and returns the clients'
// security, reporting every problem at once. Errors name files, never
// their contents.
func (s kafkaSecuritySettings) build() (kafka.Security, error) {
	var sec kafka.Security
	var errs []error
	if s.tls {
		cfg, err := loadTLS("kafka", s.caFile, s.certFile, s.keyFile, s.serverName)
		errs = append(errs, err)
		sec.TLS = cfg
	} else if s.caFile != "" || s.certFile != "" || s.keyFile != "" || s.serverName != "" {
		errs = append(errs, errors.New("kafka: TLS files or server name are set but TLS is off (set KAFKA_TLS=true)"))
	}
	mech, err := s.sasl()
	errs = append(errs, err)
	sec.SASL = mech
	if err := errors.Join(errs...); err != nil {
		return kafka.Security{}, err
	}
	return sec, nil
}

func (s kafkaSecuritySettings) sasl() (sasl.Mechanism, error) {
	name := strings.ToUpper(strings.TrimSpace(s.saslMechanism))
	if name == "" {
		if s.saslUsername != "" || s.saslPasswordFile != "" {
			return nil, errors.New("kafka: SASL user name or password file is set but no SASL mechanism (KAFKA_SASL_MECHANISM)")
		}
		return nil, nil
	}
	var errs []error
	if name != saslPlain && name != saslSCRAMSHA256 && name != saslSCRAMSHA512 {
		errs = append(errs, fmt.Errorf("kafka: unknown SASL mechanism %q: want %s, %s or %s", s.saslMechanism, saslPlain, saslSCRAMSHA256, saslSCRAMSHA512))
	}
	if s.saslUsername == "" {
		errs = append(errs, fmt.Errorf("kafka: SASL mechanism %s needs a user name (KAFKA_SASL_USERNAME)", name))
	}
	var password []byte
	if s.saslPasswordFile == "" {
		errs = append(errs, fmt.Errorf("kafka: SASL mechanism %s needs a password file (KAFKA_SASL_PASSWORD_FILE)", name))
	} else {
		var err error
		if password, err = readSecret(s.saslPasswordFile); err != nil {
			errs = append(errs, fmt.Errorf("kafka: SASL password file: %w", err))
		} else if len(password) == 0 {
			errs = append(errs, fmt.Errorf("kafka: SASL password file %s is empty", s.saslPasswordFile))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	switch name {
	case saslPlain:
		return plain.Mechanism{Username: s.saslUsername, Password: string(password)}, nil
	case saslSCRAMSHA256:
		return scramMechanism(scram.SHA256, s.saslUsername, string(password))
	default:
		return scramMechanism(scram.SHA512, s.saslUsername, string(password))
	}
}

func scramMechanism(algo scram.Algorithm, user, password string) (sasl.Mechanism, error) {
	m, err := scram.Mechanism(algo, user, password)
	if err != nil { // SASLprep refused the user name or password; neither is repeated here
		return nil, fmt.Errorf("kafka: SASL %s: user name or password is not valid SASLprep text", algo.Name())
	}
	return m, nil
}

// warnInsecureKafka warns when SASL PLAIN would send the password over
// an unencrypted connection.
func warnInsecureKafka(logger *slog.Logger, sec kafka.Security) {
	if sec.TLS == nil && sec.SASL != nil && sec.SASL.Name() == saslPlain {
		logger.Warn("kafka SASL PLAIN without TLS sends the password unencrypted; set KAFKA_TLS=true", "kafka_security", sec.String())
	}
}

// temporalTLSSettings are the worker's settings for its connection to
// Temporal, as given; TLS is on when any is set.
type temporalTLSSettings struct {
	caFile, certFile, keyFile, serverName string
}

// defineTemporalTLS adds the Temporal TLS settings.
func defineTemporalTLS(f *flags, s *temporalTLSSettings) {
	f.string(&s.caFile, "temporal-tls-ca-file", "TEMPORAL_TLS_CA_FILE", "", "PEM bundle of the CAs that sign the Temporal frontend's certificate; unset trusts the system's (TLS is on when any temporal-tls setting is)")
	f.string(&s.certFile, "temporal-tls-cert-file", "TEMPORAL_TLS_CERT_FILE", "", "PEM client certificate presented to Temporal (mutual TLS)")
	f.string(&s.keyFile, "temporal-tls-key-file", "TEMPORAL_TLS_KEY_FILE", "", "PEM private key of the client certificate")
	f.string(&s.serverName, "temporal-tls-server-name", "TEMPORAL_TLS_SERVER_NAME", "", "name the frontend's certificate must carry; unset takes the host of -temporal-address")
}

// build returns the TLS configuration of the connection to Temporal, or
// nil for plaintext when no setting is given.
func (s temporalTLSSettings) build() (*tls.Config, error) {
	if s == (temporalTLSSettings{}) {
		return nil, nil
	}
	return loadTLS("temporal", s.caFile, s.certFile, s.keyFile, s.serverName)
}

// loadTLS builds a client TLS configuration: the CAs in caFile (the
// system's when empty) verify the server, and the certificate in certFile
// with the key in keyFile, when given, is presented for mutual TLS. what
// names the connection in errors.
func loadTLS(what, caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	var errs []error
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: TLS CA file: %w", what, err))
		default:
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("%s: TLS CA file %s holds no PEM certificate", what, caFile))
			}
		}
	}
	switch {
	case certFile != "" && keyFile == "":
		errs = append(errs, fmt.Errorf("%s: TLS client certificate %s needs its key file too", what, certFile))
	case certFile == "" && keyFile != "":
		errs = append(errs, fmt.Errorf("%s: TLS key file %s needs its certificate file too", what, keyFile))
	case certFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: TLS client certificate %s and key %s: %w", what, certFile, keyFile, err))
		} else {
			cfg.Certificates = []tls.Certificate{cert}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}
