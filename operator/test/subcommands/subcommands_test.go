// Package subcommands runs every kinship subcommand with exactly what the
// operator renders for its Deployment — the environment, the ConfigMap it
// reads with envFrom, the Secrets it references and the files it mounts —
// and fails when the subcommand refuses that configuration. A pod with
// such a configuration would crash-loop; this is the check that the
// operator keeps up with what each subcommand requires
// (cmd/kinship/services.go).
package subcommands

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kinshiphq/kinship/internal/tlstest"
	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
	"github.com/kinshiphq/kinship/operator/internal/resources"
	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

// runFor is how long a subcommand runs before it is stopped. A subcommand
// checks its whole configuration before it starts anything, within
// milliseconds; afterwards it fails to reach the (unreachable)
// infrastructure or keeps trying.
const runFor = 5 * time.Second

// unreachable is where every dependency points: a closed port on
// loopback, so that the subcommands fail fast once they get that far.
const unreachable = "127.0.0.1:9"

// community is a Community as the API server stores it, every default set.
func community(name string) *kinshipv1alpha1.Community {
	comp := kinshipv1alpha1.ComponentSpec{Replicas: ptr.To[int32](2), Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	}}
	return &kinshipv1alpha1.Community{
		TypeMeta:   metav1.TypeMeta{APIVersion: "kinship.dev/v1alpha1", Kind: "Community"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: "0c1d2e3f-0000-4000-8000-000000000002", Generation: 1},
		Spec: kinshipv1alpha1.CommunitySpec{
			DisplayName: "Subcommands", Purpose: "Check that every pod would start.",
			Image: kinshipv1alpha1.ImageSpec{Repository: "ghcr.io/kinshiphq/kinship", Tag: "v0.0.0-test", PullPolicy: corev1.PullIfNotPresent},
			Components: kinshipv1alpha1.ComponentsSpec{Members: comp, Events: comp, Communications: comp, Partners: comp, Worker: comp, Insights: comp,
				Console: kinshipv1alpha1.ConsoleComponentSpec{Replicas: ptr.To[int32](1), Resources: comp.Resources}},
			Kafka:    kinshipv1alpha1.KafkaSpec{BootstrapServers: []string{unreachable}, Partitions: 4, ReplicationFactor: 3},
			Temporal: kinshipv1alpha1.TemporalSpec{Address: unreachable},
			Database: kinshipv1alpha1.DatabaseSpec{AdminSecretRef: kinshipv1alpha1.SecretReference{Name: "postgres-admin"}},
			SMTP:     kinshipv1alpha1.SMTPSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "smtp"}},
			Auth: kinshipv1alpha1.AuthSpec{
				Issuer: "https://id.example.org", Audience: "kinship",
				WorkloadIssuer: "https://kubernetes.default.svc.cluster.local", WorkloadAudience: "kinship-workload",
			},
			// Links in mail are https (resources.PublicURL); a Community
			// without such an address is not Ready, and its communications
			// pods would not start.
			Communications: kinshipv1alpha1.CommunicationsSpec{PublicURL: "https://" + name + ".example.org"},
			// Without an https Ingress the console is reached with
			// kubectl port-forward at http://localhost:8080.
			Console:        kinshipv1alpha1.ConsoleSpec{Enabled: ptr.To(true), ClientID: "kinship-console"},
			DeletionPolicy: kinshipv1alpha1.DeletionPolicyRetain,
		},
	}
}

func TestEverySubcommandAcceptsWhatTheOperatorRenders(t *testing.T) {
	bin := buildKinship(t)
	// Behind an https Ingress: the console at its address, a confidential
	// client; the insights service in a time zone of its own.
	withIngress := community("with-ingress")
	withIngress.Spec.Ingress = &kinshipv1alpha1.IngressSpec{Host: "climate.example.org", TLSSecretName: "climate-tls"}
	withIngress.Spec.Console.ClientSecret = &kinshipv1alpha1.ConsoleClientSecret{SecretRef: kinshipv1alpha1.SecretReference{Name: "console-oidc"}}
	withIngress.Spec.Insights = kinshipv1alpha1.InsightsSpec{TimeZone: "Europe/Berlin", ReportSchedule: "fri 17:30",
		AmbassadorQuotas: map[string]int32{"hosted_event": 2, "referred_member": 1}}
	external := community("external-issuer")
	external.Spec.Auth.WorkloadIssuer = "https://oidc.eks.example.com/id/ABC"

	secured := community("secured")
	secured.Spec.Kafka.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true, ServerName: "kafka.example.org",
		SecretRef: &kinshipv1alpha1.SecretReference{Name: "kafka-ca"}}
	secured.Spec.Kafka.SASL = &kinshipv1alpha1.KafkaSASLSpec{Mechanism: kinshipv1alpha1.SASLSCRAMSHA512, Username: "kinship",
		PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Name: "kafka-user", Key: "password"}}
	secured.Spec.Temporal.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true,
		SecretRef: &kinshipv1alpha1.SecretReference{Name: "temporal-tls"}}
	// Mail that mailbox providers can trust, and webhooks to an in-cluster
	// target.
	trusted := community("mail-trust")
	trusted.Spec.SMTP.DKIM = &kinshipv1alpha1.DKIMSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "dkim"},
		Key: "private.key", Selector: "kinship-2026", Domain: "example.org"}
	trusted.Spec.Communications.OutboundAllow = []string{"10.20.0.0/16", "chat-bridge.chat.svc.cluster.local"}
	dkimKey := ed25519PEM(t)

	ca := tlstest.NewCA(t, "Kinship subcommands CA")
	client := ca.Client(t, "kinship")
	tlsData := map[string][]byte{resources.TLSCAKey: ca.PEM, resources.TLSCertKey: client.CertPEM, resources.TLSKeyKey: client.KeyPEM}

	for _, c := range []*kinshipv1alpha1.Community{withIngress, external, secured, trusted} {
		secrets := map[string]*corev1.Secret{}
		for _, s := range []*corev1.Secret{
			resources.BuildDatabaseSecret(c, "postgres://kinship_x:pw@"+unreachable+"/kinship_x?sslmode=disable"),
			resources.BuildSMTPSecret(c, "smtp://"+unreachable, "Kinship <no-reply@example.org>"),
			// As the controller generates them: 32 random bytes, base64url.
			resources.BuildCommunicationsSecret(c, "n9JX0a7kq2cQeVv3mZ8yT1bW4uR6pL5sH0gD7fK2jA8", "Yd3tE6wQ9rU2iO5pA8sD1fG4hJ7kL0zX3cV6bN9mQ2w"),
			// The copies of the Kafka and Temporal security material, when
			// the spec asks for them.
			resources.BuildKafkaTLSSecret(c, tlsData),
			resources.BuildKafkaSASLSecret(c, []byte("scram-secret\n")),
			resources.BuildTemporalTLSSecret(c, tlsData),
			resources.BuildDKIMSecret(c, dkimKey),
			resources.BuildConsoleSecret(c, []byte("console-client-secret\n")),
		} {
			secrets[s.Name] = s
		}
		in := resources.Inputs{Database: unreachable, SMTP: unreachable, SecretsHash: "0",
			OperatorNamespace: "kinship-system", OperatorServiceAccount: "kinship-operator"}
		if c.Spec.Kafka.TLSEnabled() {
			in.KafkaTLS = resources.TLSFilesOf(tlsData)
		}
		if c.Spec.Temporal.TLSEnabled() {
			in.TemporalTLS = resources.TLSFilesOf(tlsData)
		}
		objs := resources.Workloads(c, in)
		var cm *corev1.ConfigMap
		for _, o := range objs {
			if m, ok := o.(*corev1.ConfigMap); ok {
				cm = m
			}
		}
		deployments := 0
		for _, o := range objs {
			if _, ok := o.(*appsv1.Deployment); ok {
				deployments++
			}
		}
		if deployments != len(resources.Components()) {
			t.Errorf("%s: %d Deployments, want one per component (%d)", c.Name, deployments, len(resources.Components()))
		}
		for _, o := range objs {
			d, ok := o.(*appsv1.Deployment)
			if !ok {
				continue
			}
			t.Run(c.Name+"/"+d.Name, func(t *testing.T) {
				env := podEnv(t, d, cm, secrets)
				runSubcommand(t, bin, d, env)
			})
		}
	}
}

// buildKinship builds the kinship binary as the image has it (see
// build/images): static, trimmed, without the development commands.
func buildKinship(t *testing.T) string {
	t.Helper()
	root := repo.Root(t)
	bin := filepath.Join(t.TempDir(), "kinship")
	start := time.Now()
	if _, err := repo.Go(root, []string{"CGO_ENABLED=0", "GOWORK="}, "build", "-trimpath", "-tags", "nodev",
		"-ldflags", "-s -w -X main.version=v0.0.0-test", "-o", bin, "./cmd/kinship"); err != nil {
		t.Fatalf("build kinship: %v", err)
	}
	t.Logf("built kinship in %s", time.Since(start).Round(time.Second))
	return bin
}

// podEnv is the environment the Deployment's container would see, with
// every mounted volume's files written to a folder of its own and the
// paths in the environment pointing there instead.
func podEnv(t *testing.T, d *appsv1.Deployment, cm *corev1.ConfigMap, secrets map[string]*corev1.Secret) []string {
	t.Helper()
	pod := d.Spec.Template.Spec
	ctr := pod.Containers[0]
	dirs := map[string]string{} // mount path → local folder
	for _, m := range ctr.VolumeMounts {
		dir := filepath.Join(t.TempDir(), m.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		writeVolume(t, dir, volume(t, pod, m.Name), secrets)
		dirs[m.MountPath] = dir
	}
	local := func(v string) string {
		for mount, dir := range dirs {
			if v == mount || strings.HasPrefix(v, mount+"/") {
				return dir + strings.TrimPrefix(v, mount)
			}
		}
		return v
	}

	vars := map[string]string{}
	for _, from := range ctr.EnvFrom {
		if from.ConfigMapRef == nil || from.ConfigMapRef.Name != cm.Name {
			t.Fatalf("%s reads env from %+v, which the operator does not build", d.Name, from)
		}
		for k, v := range cm.Data {
			if !strings.Contains(k, ".") { // community.yaml is a file, not a variable
				vars[k] = v
			}
		}
	}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom == nil:
			vars[e.Name] = local(e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, ok := secrets[ref.Name]
			if !ok || s.Data[ref.Key] == nil {
				t.Fatalf("%s: %s comes from secret %s key %s, which the operator does not build", d.Name, e.Name, ref.Name, ref.Key)
			}
			vars[e.Name] = string(s.Data[ref.Key])
		default:
			t.Fatalf("%s: %s comes from %+v", d.Name, e.Name, e.ValueFrom)
		}
	}
	out := []string{"HOME=" + t.TempDir()}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

func volume(t *testing.T, pod corev1.PodSpec, name string) corev1.Volume {
	t.Helper()
	for _, v := range pod.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("volume %s is mounted but not defined", name)
	return corev1.Volume{}
}

// writeVolume writes what the kubelet would put into the volume.
func writeVolume(t *testing.T, dir string, v corev1.Volume, secrets map[string]*corev1.Secret) {
	t.Helper()
	write := func(path string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, path), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case v.EmptyDir != nil:
	case v.Secret != nil:
		s, ok := secrets[v.Secret.SecretName]
		if !ok {
			t.Fatalf("volume %s mounts secret %s, which the operator does not build", v.Name, v.Secret.SecretName)
		}
		if len(v.Secret.Items) == 0 { // the whole Secret, a file per key
			for k, data := range s.Data {
				write(k, data)
			}
		}
		for _, item := range v.Secret.Items {
			if s.Data[item.Key] == nil {
				t.Fatalf("volume %s mounts key %s, which secret %s lacks", v.Name, item.Key, s.Name)
			}
			write(item.Path, s.Data[item.Key])
		}
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			switch {
			case src.ServiceAccountToken != nil:
				write(src.ServiceAccountToken.Path, []byte("header.payload.signature"))
			case src.ConfigMap != nil && src.ConfigMap.Name == "kube-root-ca.crt":
				for _, item := range src.ConfigMap.Items {
					write(item.Path, selfSignedCA(t))
				}
			default:
				t.Fatalf("volume %s projects %+v", v.Name, src)
			}
		}
	default:
		t.Fatalf("volume %s: unknown kind %+v", v.Name, v.VolumeSource)
	}
}

// ed25519PEM is a DKIM signing key as the operator copies it: PKCS#8 PEM.
func ed25519PEM(t *testing.T) []byte {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func selfSignedCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// runSubcommand runs the container's command for runFor and fails when
// the subcommand rejects its configuration or arguments. Failing later,
// at the unreachable dependencies, means the configuration was accepted.
func runSubcommand(t *testing.T, bin string, d *appsv1.Deployment, env []string) {
	t.Helper()
	ctr := d.Spec.Template.Spec.Containers[0]
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, ctr.Args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Logf("%s still running after %s: configuration accepted", d.Name, runFor)
		return
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("%s exited without error before %s, or did not run: %v\n%s", d.Name, runFor, err, out)
	}
	failure := failureOf(out)
	if exit.ExitCode() == 2 || failure == "" || !strings.HasPrefix(failure, ctr.Args[0]+":") {
		t.Fatalf("%s refused what the operator renders (exit %d): %s\n%s", d.Name, exit.ExitCode(), failure, out)
	}
	t.Logf("%s got past its configuration and failed at the unreachable infrastructure: %s", d.Name, failure)
}

// failureOf returns the error of the binary's final "kinship failed" log
// record.
func failureOf(out []byte) string {
	var failure string
	for _, line := range strings.Split(string(out), "\n") {
		var rec struct {
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "kinship failed" {
			failure = rec.Error
		}
	}
	return failure
}
