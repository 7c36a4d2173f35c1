//go:debug rsa1024min=0

package controller

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
)

func pemKey(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestOnlyKeysDKIMCanSignWithAreAccepted(t *testing.T) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa512, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  []byte
		want string // "" when accepted
	}{
		{"Ed25519", pemKey(t, ed), ""},
		{"RSA 2048 (PKCS#8)", pemKey(t, rsa2048), ""},
		{"RSA 2048 (PKCS#1)", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsa2048)}), ""},
		{"RSA 512", pemKey(t, rsa512), "RSA key has 512 bits"},
		{"ECDSA", pemKey(t, ec), "use RSA or Ed25519"},
		{"a certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), `"CERTIFICATE" is not a private key`},
		{"not PEM", []byte("dkim-secret-material"), "no PEM block"},
		{"empty", nil, "missing or empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDKIMKey(tc.key)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "dkim-secret-material"):
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

// A DKIM key named by the spec is checked, copied into the instance
// namespace and mounted into the communications pods, which roll when it
// changes; a key that does not parse is reported without being quoted;
// dropping spec.smtp.dkim removes the copy.
func TestTheDKIMKeyReachesTheCommunicationsPods(t *testing.T) {
	f := newFixture(t, "dkim")
	putSecret(t, "dkim-signing", map[string][]byte{"key.pem": []byte("-----BEGIN PRIVATE KEY-----\nbroken-key-material\n-----END PRIVATE KEY-----\n")})
	f.community.Spec.SMTP.DKIM = &kinshipv1alpha1.DKIMSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "dkim-signing"},
		Key: "key.pem", Selector: "kinship-2026", Domain: "example.org"}
	f.create(t)
	f.cleanup(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionWorkloadsReady, metav1.ConditionFalse, "DKIMSecretUnavailable")
	msg := f.condition(t, kinshipv1alpha1.ConditionWorkloadsReady).Message
	if !strings.Contains(msg, `spec.smtp.dkim.secretRef: key "key.pem" of secret kinship-system/dkim-signing`) || strings.Contains(msg, "broken-key-material") {
		t.Errorf("WorkloadsReady says %q", msg)
	}
	var s corev1.Secret
	if err := f.object(t, "dkim-dkim", &s); !apierrors.IsNotFound(err) {
		t.Errorf("a key that does not parse was copied: %v", err)
	}

	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := pemKey(t, ed)
	putSecret(t, "dkim-signing", map[string][]byte{"key.pem": key})
	f.nudge(t)
	f.waitReady(t)
	if err := f.object(t, resources.DKIMSecretName(f.community), &s); err != nil || string(s.Data[resources.DKIMKeyKey]) != string(key) {
		t.Fatalf("the copy: %v %v", err, s.Data)
	}
	d := f.deployment(t, "communications")
	env := containerEnv(d)
	if env["SMTP_DKIM_KEY_FILE"] != "/var/run/secrets/kinship/dkim/private.key" || env["SMTP_DKIM_SELECTOR"] != "kinship-2026" || env["SMTP_DKIM_DOMAIN"] != "example.org" {
		t.Errorf("communications env: %v", env)
	}
	hash := d.Spec.Template.Annotations[resources.AnnotationSecretsHash]

	// A new key (a rotation) rolls the pods.
	_, ed2, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	putSecret(t, "dkim-signing", map[string][]byte{"key.pem": pemKey(t, ed2)})
	f.nudge(t)
	eventually(t, 10*time.Second, func() error {
		if f.deployment(t, "communications").Spec.Template.Annotations[resources.AnnotationSecretsHash] == hash {
			return fmt.Errorf("the pods were not rolled to the new key")
		}
		return nil
	})

	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.SMTP.DKIM = nil })
	f.waitReady(t)
	eventually(t, 10*time.Second, func() error {
		if err := f.object(t, "dkim-dkim", &s); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the copy is still there (%v)", err)
		}
		if _, ok := containerEnv(f.deployment(t, "communications"))["SMTP_DKIM_KEY_FILE"]; ok {
			return fmt.Errorf("the pods still sign")
		}
		return nil
	})
}

// A signing domain the sender's address does not belong to would not
// align for DMARC, and the communications service refuses it: the
// operator says so instead of rolling pods that cannot start.
func TestADKIMDomainThatDoesNotAlignIsReported(t *testing.T) {
	f := newFixture(t, "dkim-align")
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	putSecret(t, "dkim-align-signing", map[string][]byte{"private.key": pemKey(t, ed)})
	f.community.Spec.SMTP.DKIM = &kinshipv1alpha1.DKIMSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "dkim-align-signing"},
		Selector: "kinship", Domain: "other.example"}
	f.create(t)
	f.cleanup(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionWorkloadsReady, metav1.ConditionFalse, "DKIMDomainMismatch")
	if msg := f.condition(t, kinshipv1alpha1.ConditionWorkloadsReady).Message; !strings.Contains(msg, "neither the sender's domain example.org nor a parent of it") {
		t.Errorf("WorkloadsReady says %q", msg)
	}
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.SMTP.DKIM.Domain = "example.org" })
	f.waitReady(t)
}

// Links in mail must be https: a Community with no https address for its
// communications service — no TLS on its Ingress, no publicURL — is not
// Ready and says what to set; either one makes it Ready.
func TestACommunityWithoutAnHTTPSAddressIsNotReady(t *testing.T) {
	f := newFixture(t, "no-https")
	f.community.Spec.Communications.PublicURL = ""
	f.community.Spec.Ingress = &kinshipv1alpha1.IngressSpec{Host: "no-https.example.org"}
	f.create(t)
	f.cleanup(t)
	f.waitCondition(t, kinshipv1alpha1.ConditionWorkloadsReady, metav1.ConditionFalse, "NoHTTPSPublicURL")
	if msg := f.condition(t, kinshipv1alpha1.ConditionWorkloadsReady).Message; !strings.Contains(msg, "spec.communications.publicURL") {
		t.Errorf("WorkloadsReady says %q", msg)
	}
	f.update(t, func(c *kinshipv1alpha1.Community) { c.Spec.Ingress.TLSSecretName = "no-https-tls" })
	f.waitReady(t)
	if got := containerEnv(f.deployment(t, "communications"))["KINSHIP_PUBLIC_URL"]; got != "https://no-https.example.org" {
		t.Errorf("KINSHIP_PUBLIC_URL = %q", got)
	}
	f.update(t, func(c *kinshipv1alpha1.Community) {
		c.Spec.Ingress = nil
		c.Spec.Communications.PublicURL = "https://mail-links.example.org/kinship/"
	})
	f.waitReady(t)
	if got := containerEnv(f.deployment(t, "communications"))["KINSHIP_PUBLIC_URL"]; got != "https://mail-links.example.org/kinship" {
		t.Errorf("KINSHIP_PUBLIC_URL = %q", got)
	}
}
