package mail

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	gomail "github.com/wneessen/go-mail"
)

// DKIM signs outgoing mail (RFC 6376), so mailbox providers can check it
// comes from the sending domain. The public key is published in DNS at
// <Selector>._domainkey.<Domain>.
type DKIM struct {
	Domain   string
	Selector string
	// Key is an RSA key of at least 1024 bits (2048 recommended) or an
	// Ed25519 key; see ParseDKIMKey.
	Key crypto.Signer
}

// SignedHeaders are the header fields every signature covers: those a
// reader trusts (From, To, Subject, Date), the message's identity and
// structure, and both List-Unsubscribe fields, as RFC 8058 requires of
// one-click unsubscribe. Fields a message lacks (Cc, Reply-To) are signed
// as absent, so nobody can add them on the way.
func SignedHeaders() []string {
	return []string{"From", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post"}
}

// ParseDKIMKey reads a PEM private key: PKCS#1 or PKCS#8 RSA of at least
// 1024 bits, or PKCS#8 Ed25519.
func ParseDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("dkim key: no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("dkim key: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("dkim key: RSA key has %d bits; DKIM needs at least 1024 (2048 recommended)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("dkim key: %T keys are not supported; use RSA or Ed25519", key)
}

func (d *DKIM) validate() error {
	switch {
	case d.Domain == "" || d.Selector == "" || d.Key == nil:
		return errors.New("dkim needs a domain, a selector and a key")
	case strings.ContainsAny(d.Domain+d.Selector, " ;=\r\n"):
		return errors.New("dkim domain and selector must be DNS names")
	}
	return nil
}

// sign adds a DKIM-Signature to msg. The message is written once to sign
// it and again when sent; both writes give the same bytes because the
// date, Message-ID and multipart boundary are fixed first (a test verifies
// a sent message's signature).
func (d *DKIM) sign(msg *gomail.Msg) error {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	msg.SetBoundary("kinship-" + hex.EncodeToString(b[:]))
	var raw bytes.Buffer
	if _, err := msg.WriteTo(&raw); err != nil {
		return fmt.Errorf("dkim: write message: %w", err)
	}
	signer, err := dkim.NewSigner(&dkim.SignOptions{
		Domain: d.Domain, Selector: d.Selector, Signer: d.Key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: SignedHeaders(),
	})
	if err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	if _, err := signer.Write(raw.Bytes()); err != nil {
		_ = signer.Close()
		return fmt.Errorf("dkim: %w", err)
	}
	if err := signer.Close(); err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	field := strings.TrimSuffix(signer.Signature(), "\r\n")
	name, value, ok := strings.Cut(field, ":")
	if !ok || !strings.EqualFold(name, "DKIM-Signature") {
		return errors.New("dkim: unexpected signature field")
	}
	msg.SetGenHeaderPreformatted("DKIM-Signature", strings.TrimLeft(value, " "))
	return nil
}
