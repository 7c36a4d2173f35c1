package controller

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	kmail "github.com/kinshiphq/kinship/internal/mail"
	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

// reconcileDKIMSecret copies the DKIM signing key the spec names into the
// instance namespace, where the communications pods read it, after
// checking it as the service will (checkDKIMKey): a key that does not
// parse is reported here rather than in pods that would crash-loop on it. Without spec.smtp.dkim the copy is removed. Like the other copies,
// a source that fails leaves the copy as it was.
func (r *CommunityReconciler) reconcileDKIMSecret(ctx context.Context, c *kinshipv1alpha1.Community) (map[string][]byte, error) {
	name := resources.DKIMSecretName(c)
	d := c.Spec.SMTP.DKIM
	if d == nil {
		return nil, r.removeOwnedSecret(ctx, c, name)
	}
	ref := secretRef{"spec.smtp.dkim.secretRef", d.SecretRef}
	s, err := r.readSecret(ctx, c, ref)
	if err != nil {
		return r.cachedSecretData(ctx, c, name), err
	}
	key := s.Data[d.KeyOrDefault()]
	if err := checkDKIMKey(key); err != nil {
		return r.cachedSecretData(ctx, c, name), fmt.Errorf("%s: key %q of secret %s/%s: %w", ref.field, d.KeyOrDefault(), s.Namespace, s.Name, err)
	}
	desired := resources.BuildDKIMSecret(c, key)
	if _, err := r.apply(ctx, c, desired); err != nil {
		return r.cachedSecretData(ctx, c, name), err
	}
	return desired.Data, nil
}

// checkDKIMAlignment checks that the DKIM signing domain is the sender
// address's domain or a parent of it, as DMARC needs and the
// communications service insists on.
func checkDKIMAlignment(from, domain string) error {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return errors.New("spec.smtp.secretRef: key from is not an e-mail address")
	}
	at := strings.LastIndex(addr.Address, "@")
	sender := strings.ToLower(addr.Address[at+1:])
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if sender != d && !strings.HasSuffix(sender, "."+d) {
		return fmt.Errorf("spec.smtp.dkim.domain %s is neither the sender's domain %s nor a parent of it, so DMARC would not align", domain, sender)
	}
	return nil
}

// checkDKIMKey checks that key is a private key the communications
// service can sign with, by the service's own parser (PEM RSA of 1024 bits
// or more, or Ed25519). Errors never quote the key.
func checkDKIMKey(key []byte) error {
	if len(key) == 0 {
		return errors.New("missing or empty")
	}
	if _, err := kmail.ParseDKIMKey(key); err != nil {
		return err
	}
	return nil
}
