package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/sasl/plain"

	"github.com/kinshiphq/kinship/internal/kafka"
	"github.com/kinshiphq/kinship/internal/tlstest"
)

const secretPassword = "s3cret-kafka-password"

// pki is a CA with a server certificate for serverName and a client
// certificate, written to files as a Kubernetes Secret mounts them.
type pki struct {
	ca                                *tlstest.CA
	server                            tlstest.Pair
	caFile, certFile, keyFile, notPEM string
	passwordFile, emptyFile           string
	otherKeyFile                      string
}

const serverName = "broker.kinship.test"

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "Kinship test CA")
	client := ca.Client(t, "kinship-members")
	return &pki{
		ca:           ca,
		server:       ca.Server(t, serverName),
		caFile:       tlstest.WriteFile(t, dir, "ca.crt", ca.PEM),
		certFile:     tlstest.WriteFile(t, dir, "tls.crt", client.CertPEM),
		keyFile:      tlstest.WriteFile(t, dir, "tls.key", client.KeyPEM),
		otherKeyFile: tlstest.WriteFile(t, dir, "other.key", ca.Client(t, "someone-else").KeyPEM),
		notPEM:       tlstest.WriteFile(t, dir, "garbage.crt", []byte("not a certificate\n")),
		passwordFile: tlstest.WriteFile(t, dir, "password", []byte(secretPassword+"\n")),
		emptyFile:    tlstest.WriteFile(t, dir, "empty", []byte("\n")),
	}
}

// handshake runs a TLS server that requires a client certificate of p's
// CA and reports the client's name once cfg completes a handshake with it.
func (p *pki) handshake(t *testing.T, cfg *tls.Config) (string, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.server.TLS}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			peer <- ""
			return
		}
		defer conn.Close()
		tc := conn.(*tls.Conn)
		if tc.Handshake() != nil || len(tc.ConnectionState().PeerCertificates) == 0 {
			peer <- ""
			return
		}
		peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
	}()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.Handshake(); err != nil {
		return "", err
	}
	return <-peer, nil
}

func envOf(m map[string]string) envFunc { return func(k string) string { return m[k] } }

func parseKafkaSecurity(t *testing.T, env map[string]string, args ...string) (kafka.Security, error) {
	t.Helper()
	f := newFlags("test", envOf(env))
	var s kafkaSecuritySettings
	if err := defineKafkaSecurity(f, &s); err != nil {
		return kafka.Security{}, err
	}
	if err := f.parse(args); err != nil {
		t.Fatal(err)
	}
	return s.build()
}

func TestKafkaSecurityIsBuiltFromTheEnvironment(t *testing.T) {
	p := newPKI(t)
	sec, err := parseKafkaSecurity(t, map[string]string{
		"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": p.caFile, "KAFKA_TLS_CERT_FILE": p.certFile, "KAFKA_TLS_KEY_FILE": p.keyFile,
		"KAFKA_TLS_SERVER_NAME": serverName, "KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USERNAME": "kinship",
		"KAFKA_SASL_PASSWORD_FILE": p.passwordFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sec.TLS == nil || sec.SASL == nil || sec.SASL.Name() != "SCRAM-SHA-512" {
		t.Fatalf("security = %v, want TLS with SCRAM-SHA-512", sec)
	}
	if sec.TLS.ServerName != serverName || sec.TLS.MinVersion != tls.VersionTLS12 {
		t.Errorf("server name %q, min version %x", sec.TLS.ServerName, sec.TLS.MinVersion)
	}
	// The configuration trusts the CA in the file and presents the
	// client certificate: a server requiring both accepts it.
	if peer, err := p.handshake(t, sec.TLS); err != nil || peer != "kinship-members" {
		t.Errorf("mutual TLS handshake: peer %q, error %v", peer, err)
	}
}

func TestKafkaSecurityFlagsWinAndPasswordsLoseTheirNewline(t *testing.T) {
	p := newPKI(t)
	sec, err := parseKafkaSecurity(t, map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_USERNAME": "from-env"},
		"-kafka-sasl-mechanism", "PLAIN", "-kafka-sasl-username", "kinship", "-kafka-sasl-password-file", p.passwordFile)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := sec.SASL.(plain.Mechanism)
	if !ok || m.Username != "kinship" || m.Password != secretPassword {
		t.Errorf("SASL = %T %q, want PLAIN for kinship with the file's password", sec.SASL, sec.SASL.Name())
	}
	if sec.TLS != nil {
		t.Error("TLS on without KAFKA_TLS")
	}
}

func TestNoKafkaSecuritySettingsMeanPlaintext(t *testing.T) {
	sec, err := parseKafkaSecurity(t, map[string]string{"KAFKA_TLS": "false"})
	if err != nil || !sec.IsZero() {
		t.Errorf("security %v, error %v; want plaintext", sec, err)
	}
	// TLS with nothing else trusts the system's CAs.
	sec, err = parseKafkaSecurity(t, map[string]string{"KAFKA_TLS": "1"})
	if err != nil || sec.TLS == nil || sec.TLS.RootCAs != nil || len(sec.TLS.Certificates) != 0 || sec.SASL != nil {
		t.Errorf("security %v, error %v; want TLS with the system roots", sec, err)
	}
}

func TestBadKafkaSecuritySettingsAreReported(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"missing CA file", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": "/nonexistent/ca.crt"},
			[]string{"kafka: TLS CA file", "/nonexistent/ca.crt", "no such file"}},
		{"CA file without PEM", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": p.notPEM},
			[]string{"holds no PEM certificate"}},
		{"certificate without key", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CERT_FILE": p.certFile},
			[]string{"needs its key file too"}},
		{"key without certificate", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_KEY_FILE": p.keyFile},
			[]string{"needs its certificate file too"}},
		{"key of another certificate", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CERT_FILE": p.certFile, "KAFKA_TLS_KEY_FILE": p.otherKeyFile},
			[]string{"private key does not match public key"}},
		{"certificate file without PEM", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CERT_FILE": p.notPEM, "KAFKA_TLS_KEY_FILE": p.keyFile},
			[]string{"TLS client certificate", p.notPEM}},
		{"TLS files while TLS is off", map[string]string{"KAFKA_TLS_CA_FILE": p.caFile},
			[]string{"TLS is off"}},
		{"not a boolean", map[string]string{"KAFKA_TLS": "yes please"},
			[]string{"$KAFKA_TLS"}},
		{"unknown mechanism", map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI", "KAFKA_SASL_USERNAME": "kinship", "KAFKA_SASL_PASSWORD_FILE": p.passwordFile},
			[]string{`unknown SASL mechanism "GSSAPI"`, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"}},
		{"password file without user name", map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_PASSWORD_FILE": p.passwordFile},
			[]string{"needs a user name"}},
		{"password file without mechanism", map[string]string{"KAFKA_SASL_USERNAME": "kinship", "KAFKA_SASL_PASSWORD_FILE": p.passwordFile},
			[]string{"no SASL mechanism"}},
		{"mechanism without password file", map[string]string{"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_USERNAME": "kinship"},
			[]string{"needs a password file"}},
		{"missing password file", map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "kinship", "KAFKA_SASL_PASSWORD_FILE": "/nonexistent/password"},
			[]string{"SASL password file", "/nonexistent/password"}},
		{"empty password file", map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "kinship", "KAFKA_SASL_PASSWORD_FILE": p.emptyFile},
			[]string{"is empty"}},
		{"every problem at once", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": p.notPEM, "KAFKA_TLS_CERT_FILE": p.certFile,
			"KAFKA_SASL_MECHANISM": "SCRAM-SHA-1", "KAFKA_SASL_PASSWORD_FILE": p.passwordFile},
			[]string{"holds no PEM certificate", "needs its key file too", "unknown SASL mechanism", "needs a user name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sec, err := parseKafkaSecurity(t, tc.env)
			if err == nil {
				t.Fatalf("accepted: %v", sec)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
			if strings.Contains(err.Error(), secretPassword) {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

func TestTemporalTLSIsOnWhenAnySettingIs(t *testing.T) {
	p := newPKI(t)
	build := func(env map[string]string) (*tls.Config, error) {
		f := newFlags("test", envOf(env))
		var s temporalTLSSettings
		defineTemporalTLS(f, &s)
		if err := f.parse(nil); err != nil {
			t.Fatal(err)
		}
		return s.build()
	}
	if cfg, err := build(nil); cfg != nil || err != nil {
		t.Errorf("no settings: %v, %v; want plaintext", cfg, err)
	}
	cfg, err := build(map[string]string{"TEMPORAL_TLS_SERVER_NAME": "temporal.example.org"})
	if err != nil || cfg == nil || cfg.ServerName != "temporal.example.org" || cfg.RootCAs != nil {
		t.Errorf("server name only: %+v, %v; want TLS with the system roots", cfg, err)
	}
	cfg, err = build(map[string]string{"TEMPORAL_TLS_CA_FILE": p.caFile, "TEMPORAL_TLS_CERT_FILE": p.certFile,
		"TEMPORAL_TLS_KEY_FILE": p.keyFile, "TEMPORAL_TLS_SERVER_NAME": serverName})
	if err != nil {
		t.Fatal(err)
	}
	if peer, err := p.handshake(t, cfg); err != nil || peer != "kinship-members" {
		t.Errorf("mutual TLS handshake: peer %q, error %v", peer, err)
	}
	// Without the server name the frontend's certificate does not match
	// the address.
	cfg.ServerName = ""
	if _, err := p.handshake(t, cfg); err == nil {
		t.Error("handshake without the server name succeeded")
	}
	for _, tc := range []struct{ env, value, want string }{
		{"TEMPORAL_TLS_KEY_FILE", p.keyFile, "temporal: TLS key file " + p.keyFile + " needs its certificate file too"},
		{"TEMPORAL_TLS_CA_FILE", p.notPEM, "temporal: TLS CA file " + p.notPEM + " holds no PEM certificate"},
	} {
		if _, err := build(map[string]string{tc.env: tc.value}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.env, err, tc.want)
		}
	}
}

func TestSecuritySettingsAreCheckedBeforeAComponentStarts(t *testing.T) {
	p := newPKI(t)
	env := map[string]string{
		"KINSHIP_COMMUNITIES": "demo", "KAFKA_BROKERS": "127.0.0.1:1", "TEMPORAL_ADDRESS": "127.0.0.1:1",
		"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": "/nonexistent/ca.crt", "TEMPORAL_TLS_CERT_FILE": p.certFile,
	}
	logger := slog.New(slog.DiscardHandler)
	// Were the settings not checked first, these would run until the
	// context ends, which it never does.
	err := runWorker(context.Background(), nil, envOf(env), logger)
	for _, want := range []string{"configuration:", "kafka: TLS CA file", "temporal: TLS client certificate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("worker error lacks %q: %v", want, err)
		}
	}
	err = runMembers(context.Background(), nil, envOf(env), logger)
	if err == nil || !strings.Contains(err.Error(), "kafka: TLS CA file") {
		t.Errorf("members error = %v, want the Kafka CA file reported", err)
	}
}

func TestPlainSASLWithoutTLSIsWarnedAboutWithoutThePassword(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	warnInsecureKafka(logger, kafka.Security{SASL: plain.Mechanism{Username: "kinship", Password: secretPassword}})
	if !strings.Contains(logs.String(), "unencrypted") || strings.Contains(logs.String(), secretPassword) {
		t.Errorf("log = %q, want a warning without the password", logs.String())
	}
	logs.Reset()
	warnInsecureKafka(logger, kafka.Security{TLS: &tls.Config{MinVersion: tls.VersionTLS12}, SASL: plain.Mechanism{Username: "kinship", Password: secretPassword}})
	if logs.Len() != 0 {
		t.Errorf("warned about PLAIN over TLS: %q", logs.String())
	}
}
