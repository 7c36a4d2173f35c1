package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// BuildNamespace builds the instance namespace, enforcing Pod Security
// "restricted".
func BuildNamespace(c *kinshipv1alpha1.Community) *corev1.Namespace {
	labels := Labels(c, "")
	for _, mode := range []string{"enforce", "audit", "warn"} {
		labels["pod-security.kubernetes.io/"+mode] = "restricted"
	}
	return &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            Namespace(c),
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{OwnerReference(c)},
		},
	}
}

// BuildServiceAccount builds the instance's one service account. Pods get
// no API token: they mount only a projected token for Kinship's audience.
func BuildServiceAccount(c *kinshipv1alpha1.Community) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   objectMeta(c, ServiceAccountName, ""),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// communityDocument is the community's description in the ConfigMap.
type communityDocument struct {
	Name        string                 `json:"name"`
	DisplayName string                 `json:"displayName"`
	Purpose     string                 `json:"purpose"`
	Goals       []kinshipv1alpha1.Goal `json:"goals,omitempty"`
}

// BuildConfigMap builds the settings every component shares (read with
// envFrom) and the community's description (community.yaml).
func BuildConfigMap(c *kinshipv1alpha1.Community) *corev1.ConfigMap {
	doc, err := yaml.Marshal(communityDocument{
		Name: c.Name, DisplayName: c.Spec.DisplayName, Purpose: c.Spec.Purpose, Goals: c.Spec.Goals,
	})
	if err != nil { // plain strings and quantities always marshal
		panic("resources: marshal community document: " + err.Error())
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(c, ConfigMapName, ""),
		Data: map[string]string{
			"KINSHIP_COMMUNITIES":         c.Name,
			"KAFKA_BROKERS":               strings.Join(c.Spec.Kafka.BootstrapServers, ","),
			"OTEL_EXPORTER_OTLP_ENDPOINT": c.Spec.OpenTelemetry.Endpoint,
			"LOG_FORMAT":                  "json",
			"community.yaml":              string(doc),
		},
	}
}

// ConfigHash digests the ConfigMap's data; it changes the pod templates,
// and so rolls the pods, whenever the shared settings change.
func ConfigHash(c *kinshipv1alpha1.Community) string {
	return HashData(BuildConfigMap(c).Data)
}

// HashData digests a map of strings in key order.
func HashData(data map[string]string) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(strconv.Itoa(len(k)) + ":" + k + strconv.Itoa(len(data[k])) + ":" + data[k]))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// BuildDatabaseSecret builds the Secret holding the workloads' database
// URL (key "url").
func BuildDatabaseSecret(c *kinshipv1alpha1.Community, databaseURL string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(c, DatabaseSecretName(c), ""),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"url": []byte(databaseURL)},
	}
}

// BuildSMTPSecret builds the instance's copy of the SMTP settings (keys
// "url" and "from").
func BuildSMTPSecret(c *kinshipv1alpha1.Community, smtpURL, from string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(c, SMTPSecretName(c), ""),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"url": []byte(smtpURL), "from": []byte(from)},
	}
}

// BuildCommunicationsSecret builds the Secret holding the communications
// service's unsubscribe key and bounce token, which the controller
// generates once and keeps.
func BuildCommunicationsSecret(c *kinshipv1alpha1.Community, unsubscribeKey, bounceToken string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(c, CommunicationsSecretName(c), ""),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{UnsubscribeKeyKey: []byte(unsubscribeKey), BounceTokenKey: []byte(bounceToken)},
	}
}

// BuildKafkaTLSSecret builds the instance's copy of the Kafka TLS Secret,
// keeping only ca.crt, tls.crt and tls.key of data.
func BuildKafkaTLSSecret(c *kinshipv1alpha1.Community, data map[string][]byte) *corev1.Secret {
	return buildTLSSecret(c, KafkaTLSSecretName(c), data)
}

// BuildTemporalTLSSecret builds the instance's copy of the Temporal TLS
// Secret, keeping only ca.crt, tls.crt and tls.key of data.
func BuildTemporalTLSSecret(c *kinshipv1alpha1.Community, data map[string][]byte) *corev1.Secret {
	return buildTLSSecret(c, TemporalTLSSecretName(c), data)
}

func buildTLSSecret(c *kinshipv1alpha1.Community, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(c, name, ""),
		Type:       corev1.SecretTypeOpaque,
		Data:       TLSSecretData(data),
	}
}

// TLSSecretData keeps the keys of the cert-manager layout (ca.crt, tls.crt,
// tls.key) that data holds and are not empty.
func TLSSecretData(data map[string][]byte) map[string][]byte {
	kept := map[string][]byte{}
	for _, k := range []string{TLSCAKey, TLSCertKey, TLSKeyKey} {
		if len(data[k]) > 0 {
			kept[k] = data[k]
		}
	}
	return kept
}

// BuildDKIMSecret builds the instance's copy of the DKIM signing key (key
// "private.key").
func BuildDKIMSecret(c *kinshipv1alpha1.Community, key []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(c, DKIMSecretName(c), ""),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{DKIMKeyKey: key},
	}
}

// BuildConsoleSecret builds the instance's copy of the console's OpenID
// Connect client secret (key "client-secret").
func BuildConsoleSecret(c *kinshipv1alpha1.Community, secret []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(c, ConsoleSecretName(c), ""),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{ConsoleClientSecretKey: secret},
	}
}

// BuildRoleBinding builds the RoleBinding that grants the operator
// (subject) its instance role (the ClusterRole named role) in c's
// namespace: the only place where it may read Secrets of the instance and
// write workloads.
func BuildRoleBinding(c *kinshipv1alpha1.Community, role string, subject rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: objectMeta(c, RoleBindingName, ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{subject},
	}
}

// BuildKafkaSASLSecret builds the instance's copy of the Kafka SASL
// password (key "password").
func BuildKafkaSASLSecret(c *kinshipv1alpha1.Community, password []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(c, KafkaSASLSecretName(c), ""),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{SASLPasswordKey: password},
	}
}
