package v1alpha1

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Community is one community of purpose. The operator gives each Community
// an isolated Kinship instance: a namespace named kinship-<name> holding its
// workloads, Kafka topics <name>.<domain>.v1, a Temporal namespace <name>
// and a PostgreSQL database kinship_<name>.
//
// Every Secret reference names a Secret in the operator's own namespace
// (namespace left out: the platform's settings) or in the Community's
// instance namespace kinship-<name>; the API server refuses any other
// namespace, and so does the operator. A reference stored before these
// rules and unchanged since is let through on update, so that such a
// Community can still be edited and deleted; the operator still refuses
// to follow it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=comm,categories=kinship
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="On Track",type=integer,JSONPath=`.status.goalsOnTrack`,description="Goals on track or achieved"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]+(-[a-z0-9]+)*$') && size(self.metadata.name) <= 50",message="name must be at most 50 lower-case letters, digits and single dashes: it becomes a namespace, topic prefix, Temporal namespace and database name"
// +kubebuilder:validation:XValidation:rule="(oldSelf.hasValue() && oldSelf.value().spec.database.adminSecretRef == self.spec.database.adminSecretRef) || !has(self.spec.database.adminSecretRef.namespace) || self.spec.database.adminSecretRef.namespace == 'kinship-' + self.metadata.name",optionalOldSelf=true,message="must be left out (a Secret in the operator namespace: the platform settings) or be kinship-<name>, the Community namespace; the operator reads Secrets nowhere else",fieldPath=".spec.database.adminSecretRef.namespace",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="(oldSelf.hasValue() && oldSelf.value().spec.smtp.secretRef == self.spec.smtp.secretRef) || !has(self.spec.smtp.secretRef.namespace) || self.spec.smtp.secretRef.namespace == 'kinship-' + self.metadata.name",optionalOldSelf=true,message="must be left out (a Secret in the operator namespace: the platform settings) or be kinship-<name>, the Community namespace; the operator reads Secrets nowhere else",fieldPath=".spec.smtp.secretRef.namespace",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="(oldSelf.hasValue() && has(oldSelf.value().spec.smtp.dkim) && has(self.spec.smtp.dkim) && oldSelf.value().spec.smtp.dkim.secretRef == self.spec.smtp.dkim.secretRef) || !has(self.spec.smtp.dkim) || !has(self.spec.smtp.dkim.secretRef.namespace) || self.spec.smtp.dkim.secretRef.namespace == 'kinship-' + self.metadata.name",optionalOldSelf=true,message="must be left out (a Secret in the operator namespace: the platform settings) or be kinship-<name>, the Community namespace; the operator reads Secrets nowhere else",fieldPath=".spec.smtp.dkim.secretRef.namespace",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="(oldSelf.hasValue() && has(oldSelf.value().spec.kafka.tls) && has(self.spec.kafka.tls) && has(oldSelf.value().spec.kafka.tls.secretRef) && has(self.spec.kafka.tls.secretRef) && oldSelf.value().spec.kafka.tls.secretRef == self.spec.kafka.tls.secretRef) || !has(self.spec.kafka.tls) || !has(self.spec.kafka.tls.secretRef) || !has(self.spec.kafka.tls.secretRef.namespace) || self.spec.kafka.tls.secretRef.namespace == 'kinship-' + self.metadata.name",optionalOldSelf=true,message="must be left out (a Secret in the operator namespace: the platform settings) or be kinship-<name>, the Community namespace; the operator reads Secrets nowhere else",fieldPath=".spec.kafka.tls.secretRef.namespace",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="(oldSelf.hasValue() && has(oldSelf.value().spec.kafka.sasl) && has(self.spec.kafka.sasl) && oldSelf.value().spec.kafka.sasl.passwordSecretRef == self.spec.kafka.sasl.passwordSecretRef) || !has(self.spec.kafka.sasl) || !has(self.spec.kafka.sasl.passwordSecretRef.namespace) || self.spec.kafka.sasl.passwordSecretRef.namespace == 'kinship-' + self.metadata.name",optionalOldSelf=true,message="must be left out (a Secret in the operator namespace: the platform settings) or be kinship-<name>, the Community namespace; the operator reads Secrets nowhere else",fieldPath=".spec.kafka.sasl.passwordSecretRef.namespace",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="(oldSelf.hasValue() && has(oldSelf.value().spec.temporal.tls) && has(self.spec.temporal.tls) && has(oldSelf.value().spec.temporal.tls.secretRef) && has(self.spec.temporal.tls.secretRef) && oldSelf.value().spec.temporal.tls.secretRef == self.spec.temporal.tls.secretRef) || !has(self.spec.temporal.tls) || !has(self.spec.temporal.tls.secretRef) || !has(self.spec.temporal.tls.secretRef.namespace) || self.spec.temporal.tls.secretRef.namespace == 'kinship-' + self.metadata.name",optionalOldSelf=true,message="must be left out (a Secret in the operator namespace: the platform settings) or be kinship-<name>, the Community namespace; the operator reads Secrets nowhere else",fieldPath=".spec.temporal.tls.secretRef.namespace",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="(oldSelf.hasValue() && has(oldSelf.value().spec.console) && has(oldSelf.value().spec.console.clientSecret) && has(self.spec.console) && has(self.spec.console.clientSecret) && oldSelf.value().spec.console.clientSecret.secretRef == self.spec.console.clientSecret.secretRef) || !has(self.spec.console) || !has(self.spec.console.clientSecret) || !has(self.spec.console.clientSecret.secretRef.namespace) || self.spec.console.clientSecret.secretRef.namespace == 'kinship-' + self.metadata.name",optionalOldSelf=true,message="must be left out (a Secret in the operator namespace: the platform settings) or be kinship-<name>, the Community namespace; the operator reads Secrets nowhere else",fieldPath=".spec.console.clientSecret.secretRef.namespace",reason=FieldValueForbidden
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

	// Journeys seeds the community's onboarding journey definition and
	// ambassador programme: the operator publishes each definition named
	// here through the worker's journeys API, and publishes it again when
	// an organiser makes another version current. A kind left out is
	// left to the community's organisers.
	// +optional
	Journeys JourneysSpec `json:"journeys,omitzero"`

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

	// Communications configures the communications service: its public
	// address and where its webhooks may go.
	// +optional
	Communications CommunicationsSpec `json:"communications,omitzero"`

	// Insights configures the insights service: the community's time zone,
	// the weekly health report and the ambassador programme's quotas.
	// +optional
	Insights InsightsSpec `json:"insights,omitzero"`

	// Console configures the web console: whether it runs, where browsers
	// reach it and its OpenID Connect client.
	// +optional
	// +kubebuilder:default={}
	Console ConsoleSpec `json:"console,omitzero"`

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

	// BaselineDate is the day progress is measured from; unset, the day
	// the goal was first synced. Not in the future.
	// +optional
	// +kubebuilder:validation:Format=date
	BaselineDate string `json:"baselineDate,omitempty"`

	// Segment counts only the members it describes (members metrics only).
	// +optional
	Segment *GoalSegment `json:"segment,omitempty"`

	// BreakdownValue is one value of the metric's breakdown, such as EUR
	// for contributions of money; required where the metric needs one.
	// +optional
	// +kubebuilder:validation:MaxLength=100
	BreakdownValue string `json:"breakdownValue,omitempty"`

	// Description says what the goal is for.
	// +optional
	// +kubebuilder:validation:MaxLength=500
	Description string `json:"description,omitempty"`
}

// GoalSegment narrows a goal to some members; every list it sets must
// match.
type GoalSegment struct {
	// Levels are engagement levels, such as Core.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=100
	Levels []string `json:"levels,omitempty"`
	// CountryCodes are ISO 3166-1 alpha-2 codes, such as DE.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:Pattern=`^[A-Z]{2}$`
	CountryCodes []string `json:"countryCodes,omitempty"`
	// Interests members named.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=100
	Interests []string `json:"interests,omitempty"`
	// Roles currently held: member, ambassador, organiser, staff.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:items:Enum=member;ambassador;organiser;staff
	Roles []string `json:"roles,omitempty"`
}

// MaxJourneyDocument bounds a journey definition's JSON, as the worker's
// journeys API does (256 KiB).
const MaxJourneyDocument = 256 << 10

// JourneysSpec holds definition documents in the JSON the journeys API's
// SaveDefinition takes (see docs/journeys.md). They are kept as given, not
// as typed fields: the worker owns their format and checks them in full
// (steps, templates, segments), and the API server's rules cannot see
// inside a document it keeps without a schema. The API server checks that
// each is a JSON object with a bounded number of settings; the operator
// refuses a document over 256 KiB, as the worker would.
type JourneysSpec struct {
	// Onboarding is the onboarding journey definition: a graph of steps,
	// {"locales": [...], "start": "<step id>", "steps": [{"id": ..., "kind": ...}, ...]}.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=10
	Onboarding *runtime.RawExtension `json:"onboarding,omitempty"`

	// Ambassador is the ambassador programme's settings, such as
	// {"reviewers": [...], "tiers": [...], "quotas": [...]}; a setting
	// left out takes the default programme's.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:MaxProperties=40
	Ambassador *runtime.RawExtension `json:"ambassador,omitempty"`
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
	// +optional
	// +kubebuilder:default={}
	Insights ComponentSpec `json:"insights,omitzero"`
	// Console runs one replica unless told otherwise: sessions live in
	// each replica's memory (see ConsoleComponentSpec).
	// +optional
	// +kubebuilder:default={}
	Console ConsoleComponentSpec `json:"console,omitzero"`
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

// ConsoleComponentSpec configures the console's Deployment. A person's
// session lives in the memory of the replica that signed them in, so the
// console runs one replica by default; with more, the ingress controller
// must send each browser back to the same pod (sticky sessions), or people
// are asked to sign in again.
type ConsoleComponentSpec struct {
	// Replicas is the number of pods.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// Resources are each pod's resource requests and limits.
	// +optional
	// +kubebuilder:default={requests:{cpu:"100m",memory:"128Mi"},limits:{memory:"512Mi"}}
	Resources corev1.ResourceRequirements `json:"resources,omitzero"`
}

// ComponentSpec is the console's replicas and resources as any
// component's.
func (s ConsoleComponentSpec) ComponentSpec() ComponentSpec {
	return ComponentSpec(s)
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

	// WebUIURL is the Temporal Web UI's base address, such as
	// https://temporal.example.org: the journeys API links each journey
	// to its workflow there (the worker's KINSHIP_TEMPORAL_UI_URL). Left
	// out, journeys carry no link.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+(/[^\s?#]*)?$`
	WebUIURL string `json:"webUIURL,omitempty"`
}

// SecretReference names a Secret the operator may read: one in the
// operator's own namespace (Namespace left out), where the platform's
// settings live, or one in the Community's instance namespace
// kinship-<name>. No other namespace is allowed.
type SecretReference struct {
	// Namespace is left out for the operator's namespace, or is the
	// Community's own kinship-<name>.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
}

// SecretKeyReference names one key of a Secret the operator may read, in
// the same namespaces as a SecretReference.
type SecretKeyReference struct {
	// Namespace is left out for the operator's namespace, or is the
	// Community's own kinship-<name>.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`
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

	// DKIM, when set, makes the communications service sign every mail
	// with DKIM, so that mailbox providers can check it comes from the
	// sending domain.
	// +optional
	DKIM *DKIMSpec `json:"dkim,omitempty"`
}

// DKIMSpec names the DKIM signing key and where its public half is
// published: a TXT record at <selector>._domainkey.<domain>.
type DKIMSpec struct {
	// SecretRef names the Secret holding the private key, a PEM RSA
	// (2048 bits or more) or Ed25519 key. The operator copies the key into
	// the instance's namespace, where the communications service reads it.
	// +required
	SecretRef SecretReference `json:"secretRef"`

	// Key is the key of the Secret's data that holds the private key.
	// +optional
	// +kubebuilder:default=private.key
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`

	// Selector is the DKIM selector (s=), such as kinship-2026; rotating
	// the key means a new selector.
	// +required
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Selector string `json:"selector"`

	// Domain is the signing domain (d=): the domain of the sender address
	// or a parent of it, so that DMARC aligns.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`
	Domain string `json:"domain"`
}

// DefaultDKIMKey is the key of a DKIM Secret's data holding the private
// key when DKIMSpec.Key is unset; the CRD's default says the same.
const DefaultDKIMKey = "private.key"

// KeyOrDefault is the key of the Secret's data holding the private key.
func (d DKIMSpec) KeyOrDefault() string {
	if d.Key == "" {
		return DefaultDKIMKey
	}
	return d.Key
}

// CommunicationsSpec configures the communications service beyond its
// replicas and resources.
type CommunicationsSpec struct {
	// PublicURL is the https address members reach the communications
	// service at, for the unsubscribe links in every mail, such as
	// https://climate.example.org when TLS ends in front of the cluster.
	// Unset, it is the Ingress endpoint when spec.ingress has a TLS
	// Secret. A Community with neither is not Ready: links in mail must
	// be https.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https://[^\s/?#@]+(/[^\s?#]*)?$`
	PublicURL string `json:"publicURL,omitempty"`

	// OutboundAllow lists destinations inside the cluster or on private
	// networks that webhooks may reach, such as an in-cluster chat bridge:
	// CIDRs (10.20.0.0/16, fd00:1::/64), single addresses, or host names.
	// Without it webhooks reach only public addresses. CIDRs, addresses and
	// <service>.<namespace>.svc names are also opened in the instance's
	// NetworkPolicy (on every port); other host names only pass the
	// communications service's own check. The service reads the list as
	// KINSHIP_OUTBOUND_ALLOW.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,2})?|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(/[0-9]{1,3})?|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$`
	OutboundAllow []string `json:"outboundAllow,omitempty"`
}

// InsightsSpec configures the insights service beyond its replicas and
// resources; each unset field keeps the service's default.
type InsightsSpec struct {
	// TimeZone is the IANA time zone whose days, weeks and months the
	// series follow and in which the weekly report's slot is read, such as
	// Europe/Berlin; unset means UTC. Changing it recomputes the series.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`
	TimeZone string `json:"timeZone,omitempty"`

	// ReportSchedule is the weekly health report's slot in the time zone,
	// a weekday and a time such as "mon 08:00" (the default), or "off".
	// +optional
	// +kubebuilder:validation:Pattern=`^(off|(mon|tue|wed|thu|fri|sat|sun) ([01]?[0-9]|2[0-3]):[0-5][0-9])$`
	ReportSchedule string `json:"reportSchedule,omitempty"`

	// AmbassadorQuotas are the ambassador programme's quotas: how many
	// activities of each type an ambassador should record per period,
	// such as {hosted_event: 1, referred_member: 1} (the default).
	// +optional
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-z][a-z0-9_-]{0,39}$') && self[k] >= 1 && self[k] <= 1000)",message="each quota is an activity type (lower-case letters, digits, _ and -, at most 40) and a count from 1 to 1000"
	AmbassadorQuotas map[string]int32 `json:"ambassadorQuotas,omitempty"`
}

// DefaultConsoleClientID is the console's OpenID Connect client id when
// ConsoleSpec.ClientID is unset; the CRD's default says the same.
const DefaultConsoleClientID = "kinship-console"

// ConsoleSpec configures the web console (kinship console), which people
// sign in to at spec.auth.issuer with OpenID Connect (authorization code
// with PKCE).
type ConsoleSpec struct {
	// Enabled runs the console; false removes it.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// PublicURL is the https address browsers reach the console at, the
	// root of its host, such as https://climate.example.org when TLS ends
	// in front of the cluster. Unset, it is the Ingress endpoint when
	// spec.ingress has a TLS Secret; with neither, the console is reached
	// with kubectl port-forward at http://localhost:8080. The issuer must
	// allow <publicURL>/auth/callback as a redirect URL.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https://[^\s/?#@]+/?$`
	PublicURL string `json:"publicURL,omitempty"`

	// ClientID is the console's client at the issuer.
	// +optional
	// +kubebuilder:default=kinship-console
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[!-~]+$`
	ClientID string `json:"clientID,omitempty"`

	// ClientSecret, when set, names the client's secret for a confidential
	// client; unset, the console is a public client (PKCE alone).
	// +optional
	ClientSecret *ConsoleClientSecret `json:"clientSecret,omitempty"`
}

// ConsoleClientSecret names the Secret and key holding the console's
// OpenID Connect client secret. The operator copies it into the instance's
// namespace, where the console reads it.
type ConsoleClientSecret struct {
	// +required
	SecretRef SecretReference `json:"secretRef"`

	// Key is the key of the Secret's data that holds the client secret.
	// +optional
	// +kubebuilder:default=client-secret
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// DefaultConsoleClientSecretKey is the key of the console's client secret
// when ConsoleClientSecret.Key is unset; the CRD's default says the same.
const DefaultConsoleClientSecretKey = "client-secret"

// KeyOrDefault is the key of the Secret's data holding the client secret.
func (s ConsoleClientSecret) KeyOrDefault() string {
	if s.Key == "" {
		return DefaultConsoleClientSecretKey
	}
	return s.Key
}

// IsEnabled reports whether the console runs (the default).
func (s ConsoleSpec) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// ClientIDOrDefault is the console's client id.
func (s ConsoleSpec) ClientIDOrDefault() string {
	if s.ClientID == "" {
		return DefaultConsoleClientID
	}
	return s.ClientID
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
	// ConditionGoalsSynced is true when the insights service holds
	// spec.goals and status.goals says where each stands; false when it
	// refused them (the message names the field); unknown while it cannot
	// be asked. It does not count toward Ready.
	ConditionGoalsSynced = "GoalsSynced"
	// ConditionJourneysSynced is true when the worker's current version of
	// each definition spec.journeys names is the resource's; false when
	// the worker refused one (reason InvalidDefinition, the message names
	// the step or setting); unknown while the worker cannot be asked.
	// Absent when spec.journeys names nothing. It does not count toward
	// Ready.
	ConditionJourneysSynced = "JourneysSynced"
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
	// Goals says where each goal of spec.goals stands, as the insights
	// service last answered.
	// +optional
	// +listType=map
	// +listMapKey=name
	Goals []GoalStatus `json:"goals,omitempty"`
	// GoalsOnTrack is how many of Goals are on track or achieved; unset
	// while the Community has no goals or they were never synced.
	// +optional
	GoalsOnTrack *int32 `json:"goalsOnTrack,omitempty"`
	// Journeys are the definition versions the operator published (or
	// found current) for spec.journeys, by kind.
	// +optional
	// +listType=map
	// +listMapKey=kind
	Journeys []JourneyStatus `json:"journeys,omitempty"`
	// Conditions: Ready, TopicsReady, TemporalNamespaceReady, DatabaseReady,
	// WorkloadsReady, GoalsSynced, JourneysSynced, Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// GoalState is where a goal stands.
//
// +kubebuilder:validation:Enum=on_track;at_risk;off_track;achieved;missed;unknown
type GoalState string

// The states of a goal (see docs/insights.md).
const (
	GoalOnTrack  GoalState = "on_track"
	GoalAtRisk   GoalState = "at_risk"
	GoalOffTrack GoalState = "off_track"
	GoalAchieved GoalState = "achieved"
	GoalMissed   GoalState = "missed"
	GoalUnknown  GoalState = "unknown"
)

// GoalStatus is where one goal stands. Numbers are decimals as text.
type GoalStatus struct {
	// Name is the goal's name in spec.goals.
	Name string `json:"name"`
	// Status is on_track, at_risk, off_track, achieved or missed.
	Status GoalState `json:"status"`
	// Message says the status in a sentence with its numbers.
	// +optional
	Message string `json:"message,omitempty"`
	// Current is the goal's value on AsOf.
	// +optional
	Current string `json:"current,omitempty"`
	// Target is the value to reach.
	// +optional
	Target string `json:"target,omitempty"`
	// Progress is the share of the way from the baseline to the target
	// covered; 1 or more reaches it.
	// +optional
	Progress string `json:"progress,omitempty"`
	// Forecast is the value expected on the deadline at the recent trend;
	// unset without a deadline ahead.
	// +optional
	Forecast string `json:"forecast,omitempty"`
	// AsOf is the day evaluated: today in the community's time zone, or
	// the deadline once it has passed.
	// +optional
	AsOf string `json:"asOf,omitempty"`
	// LastTransitionTime is when Status last changed.
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`
}

// JourneyKind is a kind of journey definition.
//
// +kubebuilder:validation:Enum=onboarding;ambassador
type JourneyKind string

// The kinds of journey definition.
const (
	JourneyOnboarding JourneyKind = "onboarding"
	JourneyAmbassador JourneyKind = "ambassador"
)

// JourneyStatus is the worker's version of one definition of
// spec.journeys.
type JourneyStatus struct {
	// Kind is onboarding or ambassador.
	Kind JourneyKind `json:"kind"`
	// Version is the worker's version that holds the resource's document.
	Version int32 `json:"version"`
	// Digest is the SHA-256 (hex) of the resource's document, compact
	// JSON with sorted keys, that Version holds: a spec whose digest is
	// the same is not saved again.
	Digest string `json:"digest"`
	// WorkerDigest is the SHA-256 (hex) of Version's document as the
	// worker keeps it, which tells Version from another of the same
	// number should the worker's database have been replaced.
	WorkerDigest string `json:"workerDigest"`
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
