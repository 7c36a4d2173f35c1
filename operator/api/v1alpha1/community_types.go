package v1alpha1

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Community is one community of purpose. The operator gives each Community
// an isolated Kinship instance: a namespace named kinship-<name> holding its
// workloads, Kafka topics <name>.<domain>.v1, a Temporal namespace <name>
// and a PostgreSQL database kinship_<name>.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=comm,categories=kinship
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]+(-[a-z0-9]+)*$') && size(self.metadata.name) <= 50",message="name must be at most 50 lower-case letters, digits and single dashes: it becomes a namespace, topic prefix, Temporal namespace and database name"
type Community struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec CommunitySpec `json:"spec"`
	// +optional
	Status CommunityStatus `json:"status,omitempty"`
}

// CommunityList is a list of Communities.
//
// +kubebuilder:object:root=true
type CommunityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Community `json:"items"`
}

// DeletionPolicy says what happens to a Community's external resources
// (Kafka topics, Temporal namespace, database) when it is deleted.
//
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps the topics, the Temporal namespace and the
	// database; creating the Community again picks them up.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete removes them before the Community goes away.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// CommunitySpec is what the community is for and how its instance runs.
type CommunitySpec struct {
	// DisplayName is the community's name as people read it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	DisplayName string `json:"displayName"`

	// Purpose states the concrete, shared goal the community forms around.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2000
	Purpose string `json:"purpose"`

	// Goals are the measurable goals that show whether the community moves
	// toward its purpose.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	Goals []Goal `json:"goals,omitempty"`

	// Image is the kinship image every component runs.
	// +required
	Image ImageSpec `json:"image"`

	// Components sets replicas and resources per component.
	// +optional
	// +kubebuilder:default={}
	Components ComponentsSpec `json:"components,omitzero"`

	// Kafka is the cluster that carries the community's topics.
	// +required
	Kafka KafkaSpec `json:"kafka"`

	// Temporal is the cluster that runs the community's workflows.
	// +required
	Temporal TemporalSpec `json:"temporal"`

	// Database is the PostgreSQL server that holds the community's database.
	// +required
	Database DatabaseSpec `json:"database"`

	// SMTP is the mail server the communications service sends through.
	// +required
	SMTP SMTPSpec `json:"smtp"`

	// Auth says which tokens the services trust.
	// +required
	Auth AuthSpec `json:"auth"`

	// OpenTelemetry is where traces and metrics go.
	// +optional
	OpenTelemetry OpenTelemetrySpec `json:"openTelemetry,omitzero"`

	// Ingress, when set, exposes the APIs on a host name.
	// +optional
	Ingress *IngressSpec `json:"ingress,omitempty"`

	// DeletionPolicy says whether the topics, the Temporal namespace and the
	// database are deleted with the Community.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// Suspend scales every component to zero replicas; topics, the Temporal
	// namespace and the database are kept and still reconciled.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// Goal is one measurable goal.
type Goal struct {
	// Name identifies the goal within the community.
	// +required
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+(-[a-z0-9]+)*$`
	Name string `json:"name"`

	// Metric is the metric that measures progress, such as members.active.
	// +required
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9_.-]*$`
	Metric string `json:"metric"`

	// Target is the value the metric should reach, a decimal number such
	// as 500 or 0.25.
	// +required
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)?$`
	// +kubebuilder:validation:XValidation:rule="double(self) > 0.0",message="target must be greater than zero"
	Target string `json:"target"`

	// Deadline is the date by which the target should be reached.
	// +optional
	// +kubebuilder:validation:Format=date
	Deadline string `json:"deadline,omitempty"`
}

// ImageSpec names the kinship image.
type ImageSpec struct {
	// Repository is the image repository, such as ghcr.io/kinshiphq/kinship.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Repository string `json:"repository"`

	// Tag is the image tag.
	// +required
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`
	Tag string `json:"tag"`

	// PullPolicy is the containers' image pull policy.
	// +optional
	// +kubebuilder:default=IfNotPresent
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	PullPolicy corev1.PullPolicy `json:"pullPolicy,omitempty"`
}

// ComponentsSpec configures each component.
type ComponentsSpec struct {
	// +optional
	// +kubebuilder:default={}
	Members ComponentSpec `json:"members,omitzero"`
	// +optional
	// +kubebuilder:default={}
	Events ComponentSpec `json:"events,omitzero"`
	// +optional
	// +kubebuilder:default={}
	Communications ComponentSpec `json:"communications,omitzero"`
	// +optional
	// +kubebuilder:default={}
	Partners ComponentSpec `json:"partners,omitzero"`
	// +optional
	// +kubebuilder:default={}
	Worker ComponentSpec `json:"worker,omitzero"`
}

// ComponentSpec configures one component's Deployment.
type ComponentSpec struct {
	// Replicas is the number of pods.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// Resources are each pod's resource requests and limits.
	// +optional
	// +kubebuilder:default={requests:{cpu:"100m",memory:"128Mi"},limits:{memory:"512Mi"}}
	Resources corev1.ResourceRequirements `json:"resources,omitzero"`
}

// KafkaSpec says where the topics live and how they are configured.
type KafkaSpec struct {
	// BootstrapServers are host:port addresses of the Kafka cluster.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=260
	// +kubebuilder:validation:items:Pattern=`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$`
	// +listType=atomic
	BootstrapServers []string `json:"bootstrapServers"`

	// Partitions of each topic. Partitions can be added, never removed.
	// +optional
	// +kubebuilder:default=4
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="partitions cannot be decreased"
	Partitions int32 `json:"partitions,omitempty"`

	// Retention is how long records are kept (the topics' retention.ms).
	// +optional
	// +kubebuilder:default="168h0m0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="retention must be at least 1h"
	Retention *metav1.Duration `json:"retention,omitempty"`

	// ReplicationFactor of each topic; fixed once the topics exist.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=7
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="replicationFactor is immutable"
	ReplicationFactor int32 `json:"replicationFactor,omitempty"`

	// TLS, when enabled, encrypts every connection to the brokers, the
	// components' and the operator's. Without it the connections are
	// plaintext.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// SASL, when set, authenticates every connection to the brokers, the
	// components' and the operator's, after TLS when both are set. SASL
	// PLAIN without TLS sends the password unencrypted: the operator
	// accepts it (a SASL_PLAINTEXT listener) but says so in the
	// TopicsReady condition and a Warning Event.
	// +optional
	SASL *KafkaSASLSpec `json:"sasl,omitempty"`
}

// TLSSpec says how a client connects to a server over TLS (1.2 or newer).
//
// +kubebuilder:validation:XValidation:rule="self.enabled || (!has(self.secretRef) && !has(self.serverName))",message="secretRef and serverName need enabled: true"
type TLSSpec struct {
	// Enabled turns TLS on. With no SecretRef the server's certificate must
	// be signed by a CA the system trusts.
	// +required
	Enabled bool `json:"enabled"`

	// SecretRef names a Secret with the cert-manager layout: "ca.crt", a
	// PEM bundle of the CAs that sign the server's certificate (the
	// system's CAs when absent), and, for mutual TLS, "tls.crt" and
	// "tls.key", a PEM client certificate and its key (both or neither).
	// The operator copies these keys into the instance's namespace, where
	// the components read them. Strimzi's cluster CA Secret
	// (<cluster>-cluster-ca-cert, key ca.crt) has this layout.
	// +optional
	SecretRef *SecretReference `json:"secretRef,omitempty"`

	// ServerName is the name the server's certificate must carry; empty
	// checks it against the host each server is reached at.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$`
	ServerName string `json:"serverName,omitempty"`
}

// SASLMechanism is a SASL mechanism Kinship's Kafka clients speak.
//
// +kubebuilder:validation:Enum=PLAIN;SCRAM-SHA-256;SCRAM-SHA-512
type SASLMechanism string

// The SASL mechanisms.
const (
	SASLPlain       SASLMechanism = "PLAIN"
	SASLSCRAMSHA256 SASLMechanism = "SCRAM-SHA-256"
	SASLSCRAMSHA512 SASLMechanism = "SCRAM-SHA-512"
)

// KafkaSASLSpec says how clients authenticate to the brokers.
type KafkaSASLSpec struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	// +required
	Mechanism SASLMechanism `json:"mechanism"`

	// Username is the SASL user name, such as a Strimzi KafkaUser's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Username string `json:"username"`

	// PasswordSecretRef names the Secret and key holding the password, such
	// as a Strimzi KafkaUser's Secret and its key "password". The operator
	// copies it into the instance's namespace, where the components read
	// it.
	// +required
	PasswordSecretRef SecretKeyReference `json:"passwordSecretRef"`
}

// TemporalSpec says where the community's Temporal namespace lives.
type TemporalSpec struct {
	// Address is the Temporal frontend's host:port.
	// +required
	// +kubebuilder:validation:MaxLength=260
	// +kubebuilder:validation:Pattern=`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$`
	Address string `json:"address"`

	// NamespaceRetention is how long closed workflow histories are kept.
	// +optional
	// +kubebuilder:default="168h0m0s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('24h')",message="namespaceRetention must be at least 24h"
	NamespaceRetention *metav1.Duration `json:"namespaceRetention,omitempty"`

	// TLS, when enabled, encrypts the connections to the frontend, the
	// worker's and the operator's; with a client certificate in its
	// Secret, they use mutual TLS. Without it the connections are
	// plaintext.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`
}

// SecretReference names a Secret in a namespace.
type SecretReference struct {
	// +required
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
}

// SecretKeyReference names one key of a Secret in a namespace.
type SecretKeyReference struct {
	// +required
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
	// Key is the key of the Secret's data that holds the value.
	// +optional
	// +kubebuilder:default=password
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// Ref is the Secret the key is in.
func (r SecretKeyReference) Ref() SecretReference {
	return SecretReference{Namespace: r.Namespace, Name: r.Name}
}

// KeyOrDefault is the key, "password" when unset.
func (r SecretKeyReference) KeyOrDefault() string {
	if r.Key == "" {
		return "password"
	}
	return r.Key
}

// DatabaseSpec says where the community's database is created.
type DatabaseSpec struct {
	// AdminSecretRef names a Secret whose key "url" is a PostgreSQL URL
	// (postgres://user:password@host:port/postgres?sslmode=...) of a role
	// that may create roles and databases. Workloads never see it.
	// +required
	AdminSecretRef SecretReference `json:"adminSecretRef"`
}

// SMTPSpec says how mail leaves the communications service.
type SMTPSpec struct {
	// SecretRef names a Secret with the keys "url" (smtp://, smtp+starttls://
	// or smtps://[user:pass@]host[:port]) and "from" (the sender address).
	// The operator copies them into the instance's namespace.
	// +required
	SecretRef SecretReference `json:"secretRef"`
}

// AuthSpec says which tokens the services trust.
type AuthSpec struct {
	// Issuer is the OIDC issuer whose tokens are trusted.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+`
	Issuer string `json:"issuer"`

	// Audience every token must carry.
	// +optional
	// +kubebuilder:default="kinship"
	// +kubebuilder:validation:MinLength=1
	Audience string `json:"audience,omitempty"`

	// WorkloadIssuer is trusted for the components' own tokens: the
	// cluster's service-account token issuer.
	// +optional
	// +kubebuilder:default="https://kubernetes.default.svc.cluster.local"
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+`
	WorkloadIssuer string `json:"workloadIssuer,omitempty"`

	// WorkloadAudience is the audience of the components' projected
	// service-account tokens.
	// +optional
	// +kubebuilder:default="kinship-workload"
	// +kubebuilder:validation:MinLength=1
	WorkloadAudience string `json:"workloadAudience,omitempty"`
}

// OpenTelemetrySpec says where telemetry is exported.
type OpenTelemetrySpec struct {
	// Endpoint is the OTLP/gRPC collector URL, such as
	// http://otel-collector.observability:4317. Empty keeps spans in process.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+`
	Endpoint string `json:"endpoint,omitempty"`
}

// IngressSpec exposes the APIs through an Ingress.
type IngressSpec struct {
	// Host is the public host name.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Host string `json:"host"`
	// ClassName is the IngressClass; empty uses the cluster's default.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ClassName string `json:"className,omitempty"`
	// TLSSecretName, when set, names a TLS Secret in the instance namespace
	// (kinship-<name>) that terminates HTTPS for Host.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	TLSSecretName string `json:"tlsSecretName,omitempty"`
}

// Phase summarises the conditions in one word.
//
// +kubebuilder:validation:Enum=Provisioning;Ready;Degraded;Suspended;Deleting
type Phase string

// The phases a Community goes through.
const (
	PhaseProvisioning Phase = "Provisioning"
	PhaseReady        Phase = "Ready"
	PhaseDegraded     Phase = "Degraded"
	PhaseSuspended    Phase = "Suspended"
	PhaseDeleting     Phase = "Deleting"
)

// Condition types.
const (
	// ConditionReady is true when every other condition is met and the
	// Community is not suspended.
	ConditionReady = "Ready"
	// ConditionTopicsReady is true when every topic exists as specified.
	ConditionTopicsReady = "TopicsReady"
	// ConditionTemporalNamespaceReady is true when the Temporal namespace is
	// registered with the specified retention.
	ConditionTemporalNamespaceReady = "TemporalNamespaceReady"
	// ConditionDatabaseReady is true when the database and its role exist
	// and the workloads' credentials are in place.
	ConditionDatabaseReady = "DatabaseReady"
	// ConditionWorkloadsReady is true when every component has all its
	// replicas ready.
	ConditionWorkloadsReady = "WorkloadsReady"
	// ConditionDegraded is true while something the operator depends on
	// fails; its reason names what.
	ConditionDegraded = "Degraded"
)

// CommunityStatus is what the operator observed.
type CommunityStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase summarises the conditions.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// Endpoint is where the APIs are reached: the Ingress URL, or the
	// members service inside the cluster.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// Namespace is the instance's namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Topics are the Kafka topics the instance uses.
	// +optional
	// +listType=atomic
	Topics []string `json:"topics,omitempty"`
	// TemporalNamespace is the instance's Temporal namespace.
	// +optional
	TemporalNamespace string `json:"temporalNamespace,omitempty"`
	// Database is the instance's PostgreSQL database.
	// +optional
	Database string `json:"database,omitempty"`
	// Components reports replicas per component.
	// +optional
	// +listType=map
	// +listMapKey=name
	Components []ComponentStatus `json:"components,omitzero"`
	// Conditions: Ready, TopicsReady, TemporalNamespaceReady, DatabaseReady,
	// WorkloadsReady, Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ComponentStatus reports one component's replicas.
type ComponentStatus struct {
	Name          string `json:"name"`
	Replicas      int32  `json:"replicas"`
	ReadyReplicas int32  `json:"readyReplicas"`
}

// DefaultRetention is the default of both the topics' and the Temporal
// namespace's retention; the CRD's defaults say the same.
const DefaultRetention = 7 * 24 * time.Hour

// RetentionOrDefault is the topics' retention.
func (k KafkaSpec) RetentionOrDefault() time.Duration {
	if k.Retention == nil {
		return DefaultRetention
	}
	return k.Retention.Duration
}

// TLSEnabled reports whether the connections to the brokers use TLS.
func (k KafkaSpec) TLSEnabled() bool { return k.TLS != nil && k.TLS.Enabled }

// TLSEnabled reports whether the connections to the frontend use TLS.
func (t TemporalSpec) TLSEnabled() bool { return t.TLS != nil && t.TLS.Enabled }

// TLSSecretRef is the Secret holding the TLS material, or nil when TLS is
// off or uses the system's CAs alone.
func (t *TLSSpec) TLSSecretRef() *SecretReference {
	if t == nil || !t.Enabled {
		return nil
	}
	return t.SecretRef
}

// NamespaceRetentionOrDefault is the Temporal namespace's retention.
func (t TemporalSpec) NamespaceRetentionOrDefault() time.Duration {
	if t.NamespaceRetention == nil {
		return DefaultRetention
	}
	return t.NamespaceRetention.Duration
}
