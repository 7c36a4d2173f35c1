package mail_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kinshiphq/kinship/internal/mail"
)

// dnsRecord is the TXT record an operator publishes for key.
func dnsRecord(t *testing.T, key crypto.Signer) string {
	t.Helper()
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	default:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
}

// Mail signed by the sender verifies, with the same library a receiver
// would use, against the published key; the signature covers what RFC
// 8058 asks and any change to those headers breaks it.
func TestSentMailCarriesAValidDKIMSignature(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"rsa": rsaKey, "ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			_, addr := startSink(t, dir, nil)
			s, err := mail.NewSender(mail.Config{URL: "smtp://" + addr, From: "Kinship <no-reply@mail.example.org>",
				DKIM: &mail.DKIM{Domain: "example.org", Selector: "kinship1", Key: key}}, noop.NewTracerProvider())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Send(context.Background(), mail.Envelope{MessageID: "m1@mail.example.org", To: "ada@example.org",
				Subject: "News for Ada — café", Text: "Hello Ada,\nthe repair café is on.\n", HTML: "<p>Hello Ada,</p><p>the repair café is on.</p>",
				Headers: map[string]string{"List-Unsubscribe": "<https://kinship.example.org/unsubscribe?t=abc.def>",
					"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}})
			if err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
			if len(files) != 1 {
				t.Fatalf("messages received = %d", len(files))
			}
			raw, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			lookup := func(domain string) ([]string, error) {
				if domain != "kinship1._domainkey.example.org" {
					t.Errorf("looked up %s", domain)
				}
				return []string{dnsRecord(t, key)}, nil
			}
			verify := func(raw []byte) *dkim.Verification {
				vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup})
				if err != nil || len(vs) != 1 {
					t.Fatalf("verifications = %v, %v; want one", vs, err)
				}
				return vs[0]
			}
			v := verify(raw)
			if v.Err != nil || v.Domain != "example.org" {
				t.Fatalf("signature: %v (domain %s)", v.Err, v.Domain)
			}
			for _, h := range []string{"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"} {
				if !slices.ContainsFunc(v.HeaderKeys, func(k string) bool { return strings.EqualFold(k, h) }) {
					t.Errorf("the signature does not cover %s (covers %v)", h, v.HeaderKeys)
				}
			}
			for what, tamper := range map[string]func(string) string{
				"subject":          func(m string) string { return strings.Replace(m, "Subject: ", "Subject: Re: ", 1) },
				"list-unsubscribe": func(m string) string { return strings.Replace(m, "unsubscribe?t=abc.def", "unsubscribe?t=evil", 1) },
				"body":             func(m string) string { return strings.Replace(m, "\r\n\r\n", "\r\n\r\nPS: click here\r\n", 1) },
				"an added cc":      func(m string) string { return "Cc: eve@example.org\r\n" + m },
			} {
				if v := verify([]byte(tamper(string(raw)))); v.Err == nil {
					t.Errorf("a message with a changed %s still verifies", what)
				}
			}
		})
	}
}

func TestParseDKIMKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GODEBUG", "rsa1024min=0") // only to make a key DKIM must refuse
	small, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	for name, tt := range map[string]struct {
		pem []byte
		ok  bool
	}{
		"rsa pkcs1":   {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), true},
		"rsa pkcs8":   {pkcs8(rsaKey), true},
		"ed25519":     {pkcs8(edKey), true},
		"rsa 512":     {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}), false},
		"public key":  {pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), false},
		"not pem":     {[]byte("hello"), false},
		"garbled der": {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), false},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := mail.ParseDKIMKey(tt.pem)
			if (err == nil) != tt.ok || (err == nil && k == nil) {
				t.Errorf("ParseDKIMKey = %v, %v; want ok = %v", k, err, tt.ok)
			}
		})
	}
}
