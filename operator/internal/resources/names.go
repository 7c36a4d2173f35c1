// Package resources builds the desired Kubernetes objects of a Community's
// instance. Every function here is pure: the same Community and inputs give
// the same objects, so they are tested without a cluster (golden files in
// testdata/) and applied by the controller.
package resources

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// Labels every managed object carries.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelVersion   = "app.kubernetes.io/version"
	// LabelCommunity names the Community an object belongs to; the
	// controller maps events on managed objects back to it.
	LabelCommunity = "kinship.dev/community"

	// ManagedBy is the value of LabelManagedBy on every object the operator
	// creates; its cache only holds objects carrying it.
	ManagedBy = "kinship-operator"
	appName   = "kinship"
)

// Annotations on the pod templates that roll the pods when what they read
// changes.
const (
	AnnotationConfigHash  = "kinship.dev/config-hash"
	AnnotationSecretsHash = "kinship.dev/secrets-hash"
)

// Fixed names inside an instance namespace.
const (
	ServiceAccountName = "kinship"
	ConfigMapName      = "kinship"
	NetworkPolicyName  = "kinship"
	IngressName        = "kinship"
	// WebhookPolicyName is the NetworkPolicy that lets the components that
	// send webhooks reach public addresses and the spec's allow-list.
	WebhookPolicyName = "kinship-webhooks"
	// ConsolePolicyName is the NetworkPolicy of the console's pods, which
	// the instance's policy leaves out: browsers in, the APIs, the issuer
	// and the collector out.
	ConsolePolicyName = "kinship-console"
	// RoleBindingName binds the operator's instance role to the operator
	// in the instance namespace: what it may do there, and nowhere else.
	RoleBindingName = "kinship-operator"
	// DefaultReplicas is used when a component's replicas are unset; the
	// CRD defaults them to the same value.
	DefaultReplicas int32 = 2
	// DefaultConsoleReplicas is the console's: sessions live in a
	// replica's memory. The CRD defaults it to the same value.
	DefaultConsoleReplicas int32 = 1
)

// Namespace is the instance namespace of c.
func Namespace(c *kinshipv1alpha1.Community) string { return "kinship-" + c.Name }

// TemporalNamespace is the Temporal namespace of c.
func TemporalNamespace(c *kinshipv1alpha1.Community) string { return c.Name }

// DatabaseName is the PostgreSQL database of c; its role has the same name.
func DatabaseName(c *kinshipv1alpha1.Community) string {
	return "kinship_" + strings.ReplaceAll(c.Name, "-", "_")
}

// DatabaseRole is the PostgreSQL role the workloads log in as.
func DatabaseRole(c *kinshipv1alpha1.Community) string { return DatabaseName(c) }

// DatabaseSecretName is the Secret holding the workloads' database URL.
func DatabaseSecretName(c *kinshipv1alpha1.Community) string { return c.Name + "-database" }

// SMTPSecretName is the instance's copy of the SMTP Secret.
func SMTPSecretName(c *kinshipv1alpha1.Community) string { return c.Name + "-smtp" }

// CommunicationsSecretName is the Secret holding the communications
// service's generated keys (CommunicationsSecretKeys).
func CommunicationsSecretName(c *kinshipv1alpha1.Community) string { return c.Name + "-communications" }

// KafkaTLSSecretName is the instance's copy of the Kafka TLS Secret
// (spec.kafka.tls.secretRef): ca.crt, and tls.crt with tls.key.
func KafkaTLSSecretName(c *kinshipv1alpha1.Community) string { return c.Name + "-kafka-tls" }

// KafkaSASLSecretName is the instance's copy of the Kafka SASL password
// (spec.kafka.sasl.passwordSecretRef), under the key SASLPasswordKey.
func KafkaSASLSecretName(c *kinshipv1alpha1.Community) string { return c.Name + "-kafka-sasl" }

// TemporalTLSSecretName is the instance's copy of the Temporal TLS Secret
// (spec.temporal.tls.secretRef): ca.crt, and tls.crt with tls.key.
func TemporalTLSSecretName(c *kinshipv1alpha1.Community) string { return c.Name + "-temporal-tls" }

// DKIMSecretName is the instance's copy of the DKIM signing key
// (spec.smtp.dkim.secretRef), under the key DKIMKeyKey.
func DKIMSecretName(c *kinshipv1alpha1.Community) string { return c.Name + "-dkim" }

// ConsoleSecretName is the instance's copy of the console's OpenID
// Connect client secret (spec.console.clientSecret), under the key
// ConsoleClientSecretKey.
func ConsoleSecretName(c *kinshipv1alpha1.Community) string { return c.Name + "-console" }

// OperatorSecretNames are the Secrets the operator writes into c's
// instance namespace. A Secret reference must never name one of them: it
// would make the operator's own output its input.
func OperatorSecretNames(c *kinshipv1alpha1.Community) []string {
	return []string{
		DatabaseSecretName(c), SMTPSecretName(c), CommunicationsSecretName(c),
		KafkaTLSSecretName(c), KafkaSASLSecretName(c), TemporalTLSSecretName(c), DKIMSecretName(c), ConsoleSecretName(c),
	}
}

// Keys of the instance's copies of the TLS Secrets (the cert-manager
// layout) and of the SASL password.
const (
	TLSCAKey        = "ca.crt"
	TLSCertKey      = "tls.crt"
	TLSKeyKey       = "tls.key"
	SASLPasswordKey = "password"
	// DKIMKeyKey holds the DKIM private key (PEM) in the instance's copy.
	DKIMKeyKey = "private.key"
	// ConsoleClientSecretKey holds the console's client secret in the
	// instance's copy.
	ConsoleClientSecretKey = "client-secret"
)

// Keys of the communications Secret. The operator generates each value
// once and keeps it: the unsubscribe key signs the links in every mail
// sent, so a new key would break them all.
const (
	// UnsubscribeKeyKey holds the key (32 bytes or more) that signs
	// unsubscribe links.
	UnsubscribeKeyKey = "unsubscribe-key"
	// BounceTokenKey holds the bearer token mail servers and providers
	// present to POST /bounces.
	BounceTokenKey = "bounce-token"
)

// Domains are the event domains, one topic each.
func Domains() []string { return []string{"members", "events", "communications", "partners"} }

// TopicNames are c's topics: <name>.<domain>.v1 and each one's .dlq.
func TopicNames(c *kinshipv1alpha1.Community) []string {
	var out []string
	for _, d := range Domains() {
		t := c.Name + "." + d + ".v1"
		out = append(out, t, t+".dlq")
	}
	return out
}

// WorkloadSubject is the token subject of the instance's service account.
func WorkloadSubject(c *kinshipv1alpha1.Community) string {
	return ServiceAccountSubject(Namespace(c), ServiceAccountName)
}

// ServiceAccountSubject is the token subject of a service account.
func ServiceAccountSubject(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Labels are the labels of every object of c; component may be empty.
func Labels(c *kinshipv1alpha1.Community, component string) map[string]string {
	l := SelectorLabels(c, component)
	l[LabelPartOf] = appName
	l[LabelManagedBy] = ManagedBy
	l[LabelCommunity] = c.Name
	if c.Spec.Image.Tag != "" {
		l[LabelVersion] = c.Spec.Image.Tag
	}
	return l
}

// SelectorLabels select c's pods, or one component's when component is set.
// They never change, as a Deployment's selector cannot.
func SelectorLabels(c *kinshipv1alpha1.Community, component string) map[string]string {
	l := map[string]string{LabelName: appName, LabelInstance: c.Name}
	if component != "" {
		l[LabelComponent] = component
	}
	return l
}

// OwnerReference makes c the controlling owner of an object, so deleting
// the Community deletes it.
func OwnerReference(c *kinshipv1alpha1.Community) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         kinshipv1alpha1.GroupVersion.String(),
		Kind:               "Community",
		Name:               c.Name,
		UID:                c.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// objectMeta is the metadata of an object named name in c's namespace.
func objectMeta(c *kinshipv1alpha1.Community, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       Namespace(c),
		Labels:          Labels(c, component),
		OwnerReferences: []metav1.OwnerReference{OwnerReference(c)},
	}
}
