package resources

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// Paths inside the containers.
const (
	tmpPath        = "/tmp"
	tokenDir       = "/var/run/secrets/kinship/token"
	tokenFile      = tokenDir + "/token"
	clusterCADir   = "/var/run/secrets/kinship/cluster-ca"
	clusterCAFile  = clusterCADir + "/ca.crt"
	clusterCAMap   = "kube-root-ca.crt" // published in every namespace
	tokenLifetimeS = 3600
	nonRootID      = 65532
	portName       = "http"
	// communicationsKeysDir holds the communications Secret's keys, one
	// file each.
	communicationsKeysDir = "/var/run/secrets/kinship/communications"
	// kafkaTLSDir, kafkaSASLDir and temporalTLSDir hold the instance's
	// copies of the Kafka TLS Secret, the Kafka SASL password and the
	// Temporal TLS Secret.
	kafkaTLSDir    = "/var/run/secrets/kinship/kafka-tls"
	kafkaSASLDir   = "/var/run/secrets/kinship/kafka-sasl"
	temporalTLSDir = "/var/run/secrets/kinship/temporal-tls"
	// dkimDir holds the instance's copy of the DKIM signing key.
	dkimDir = "/var/run/secrets/kinship/dkim"
	// consoleSecretDir holds the instance's copy of the console's client
	// secret; sessionsDir, a memory-backed emptyDir, the console's
	// sessions, so that a restarted container keeps people signed in.
	consoleSecretDir = "/var/run/secrets/kinship/console"
	sessionsDir      = "/var/run/kinship/sessions"
	sessionsFile     = sessionsDir + "/sessions.json"
)

// Inputs are what the builders need besides the Community: facts the
// controller read from the referenced Secrets.
type Inputs struct {
	// Database is the PostgreSQL server's host:port, from the admin URL.
	Database string
	// SMTP is the mail server's host:port, from the SMTP URL.
	SMTP string
	// SecretsHash digests the Secrets the pods read, so that new
	// credentials roll the pods.
	SecretsHash string
	// KafkaTLS and TemporalTLS say which files the instance's copies of
	// the TLS Secrets hold (nothing while no copy exists yet).
	KafkaTLS, TemporalTLS TLSFiles
	// APIServer is the Kubernetes API server's host:port as the operator
	// reaches it (in a cluster, the kubernetes Service's address). When it
	// is an IP address and the workload issuer is the API server, the
	// NetworkPolicy pins the issuer to it; empty leaves the issuer a host
	// name, opened by port.
	APIServer string
	// OperatorNamespace and OperatorServiceAccount are who the operator
	// runs as: TrustsOperator components accept its service account's
	// token, and pods of its namespace may reach their port. Empty leaves
	// both out.
	OperatorNamespace, OperatorServiceAccount string
}

// operatorSubject is the token subject of the operator's service account,
// or "" when in does not say who the operator is.
func (in Inputs) operatorSubject() string {
	if in.OperatorNamespace == "" || in.OperatorServiceAccount == "" {
		return ""
	}
	return ServiceAccountSubject(in.OperatorNamespace, in.OperatorServiceAccount)
}

// TLSFiles says which files a copy of a TLS Secret holds.
type TLSFiles struct {
	// CA is ca.crt, the CAs that sign the server's certificate.
	CA bool
	// ClientCert is tls.crt and tls.key, the client certificate and key.
	ClientCert bool
}

// TLSFilesOf says which files Secret data in the cert-manager layout
// gives.
func TLSFilesOf(data map[string][]byte) TLSFiles {
	return TLSFiles{
		CA:         len(data[TLSCAKey]) > 0,
		ClientCert: len(data[TLSCertKey]) > 0 && len(data[TLSKeyKey]) > 0,
	}
}

// BuildDeployment builds the Deployment of one component: the kinship image
// with the component's subcommand, Pod Security "restricted", probes on
// /healthz and /readyz, the component's resources and replicas, spread over
// zones and nodes.
func BuildDeployment(c *kinshipv1alpha1.Community, comp Component, in Inputs) *appsv1.Deployment {
	spec := comp.Spec(c)
	podLabels := Labels(c, comp.Name)
	container := corev1.Container{
		Name:            comp.Name,
		Image:           c.Spec.Image.Repository + ":" + c.Spec.Image.Tag,
		ImagePullPolicy: pullPolicy(c),
		Args:            []string{comp.Name},
		Ports: []corev1.ContainerPort{{
			Name: portName, ContainerPort: comp.Port, Protocol: corev1.ProtocolTCP,
		}},
		EnvFrom: []corev1.EnvFromSource{{
			ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName}},
		}},
		Env:            componentEnv(c, comp, in),
		Resources:      *spec.Resources.DeepCopy(),
		LivenessProbe:  probe("/healthz", 3),
		ReadinessProbe: probe("/readyz", 3),
		StartupProbe:   probe("/healthz", 30),
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			RunAsNonRoot:             ptr.To(true),
			Privileged:               ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		VolumeMounts:             volumeMounts(c, comp),
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(c, comp.Name, comp.Name),
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr.To(comp.Replicas(c)),
			Selector:                &metav1.LabelSelector{MatchLabels: SelectorLabels(c, comp.Name)},
			RevisionHistoryLimit:    ptr.To[int32](5),
			ProgressDeadlineSeconds: ptr.To[int32](600),
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)),
					MaxSurge:       ptr.To(intstr.FromInt32(1)),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels: podLabels,
					Annotations: map[string]string{
						AnnotationConfigHash:  ConfigHash(c),
						AnnotationSecretsHash: in.SecretsHash,
					},
				},
				Spec: corev1.PodSpec{
					ServiceAccountName:            ServiceAccountName,
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					RestartPolicy:                 corev1.RestartPolicyAlways,
					DNSPolicy:                     corev1.DNSClusterFirst,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To[int64](nonRootID),
						RunAsGroup:     ptr.To[int64](nonRootID),
						FSGroup:        ptr.To[int64](nonRootID),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers:                []corev1.Container{container},
					Volumes:                   volumes(c, comp),
					TopologySpreadConstraints: spread(c, comp),
				},
			},
		},
	}
}

func pullPolicy(c *kinshipv1alpha1.Community) corev1.PullPolicy {
	if c.Spec.Image.PullPolicy == "" {
		return corev1.PullIfNotPresent
	}
	return c.Spec.Image.PullPolicy
}

func probe(path string, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString(portName), Scheme: corev1.URISchemeHTTP,
		}},
		TimeoutSeconds:   2,
		PeriodSeconds:    10,
		SuccessThreshold: 1,
		FailureThreshold: failures,
	}
}

// componentEnv is what the component's subcommand reads (see
// docs/configuration.md and cmd/kinship/services.go); the settings every
// component shares come from the ConfigMap.
func componentEnv(c *kinshipv1alpha1.Community, comp Component, in Inputs) []corev1.EnvVar {
	env := []corev1.EnvVar{{Name: "KINSHIP_HTTP_ADDR", Value: ":" + strconv.Itoa(int(comp.Port))}}
	if comp.SignsIn {
		env = append(env, signInEnv(c)...)
	}
	if comp.Database {
		env = append(env, secretEnv("DATABASE_URL", DatabaseSecretName(c), "url"))
	}
	if comp.Kafka {
		env = append(env, kafkaSecurityEnv(c, in)...)
	}
	if comp.VerifiesTokens {
		subjects := WorkloadSubject(c)
		if op := in.operatorSubject(); comp.TrustsOperator && op != "" {
			subjects += "," + op
		}
		env = append(env,
			corev1.EnvVar{Name: "AUTH_ISSUER", Value: c.Spec.Auth.Issuer},
			corev1.EnvVar{Name: "AUTH_AUDIENCE", Value: c.Spec.Auth.Audience},
			corev1.EnvVar{Name: "AUTH_WORKLOAD_SUBJECTS", Value: subjects},
			corev1.EnvVar{Name: "AUTH_WORKLOAD_ISSUER", Value: c.Spec.Auth.WorkloadIssuer},
			corev1.EnvVar{Name: "AUTH_WORKLOAD_AUDIENCE", Value: c.Spec.Auth.WorkloadAudience},
		)
		if inClusterIssuer(c) {
			env = append(env, corev1.EnvVar{Name: "AUTH_WORKLOAD_CA_FILE", Value: clusterCAFile})
		}
	}
	if comp.SMTP {
		env = append(env,
			secretEnv("SMTP_URL", SMTPSecretName(c), "url"),
			secretEnv("SMTP_FROM", SMTPSecretName(c), "from"),
		)
		if d := c.Spec.SMTP.DKIM; d != nil {
			env = append(env,
				corev1.EnvVar{Name: "SMTP_DKIM_KEY_FILE", Value: dkimDir + "/" + DKIMKeyKey},
				corev1.EnvVar{Name: "SMTP_DKIM_SELECTOR", Value: d.Selector},
				corev1.EnvVar{Name: "SMTP_DKIM_DOMAIN", Value: d.Domain},
			)
		}
	}
	if comp.Webhooks && len(c.Spec.Communications.OutboundAllow) > 0 {
		env = append(env, corev1.EnvVar{Name: "KINSHIP_OUTBOUND_ALLOW", Value: strings.Join(c.Spec.Communications.OutboundAllow, ",")})
	}
	if comp.UnsubscribeKeys {
		env = append(env,
			corev1.EnvVar{Name: "KINSHIP_UNSUBSCRIBE_KEY_FILE", Value: communicationsKeysDir + "/" + UnsubscribeKeyKey},
			corev1.EnvVar{Name: "KINSHIP_BOUNCE_TOKEN_FILE", Value: communicationsKeysDir + "/" + BounceTokenKey},
		)
	}
	if comp.Temporal {
		env = append(env, corev1.EnvVar{Name: "TEMPORAL_ADDRESS", Value: c.Spec.Temporal.Address})
		env = append(env, temporalTLSEnv(c, in)...)
		if ui := c.Spec.Temporal.WebUIURL; ui != "" {
			env = append(env, corev1.EnvVar{Name: "KINSHIP_TEMPORAL_UI_URL", Value: ui})
		}
	}
	for _, name := range comp.Calls {
		callee := mustComponent(name)
		env = append(env, corev1.EnvVar{Name: callee.URLEnv(), Value: callee.URL(c)})
	}
	if comp.PublicURLEnv != "" {
		switch {
		case comp.PublicURLRequired:
			public, ok := PublicURL(c)
			if !ok {
				public = comp.URL(c)
			}
			env = append(env, corev1.EnvVar{Name: comp.PublicURLEnv, Value: public})
		case c.Spec.Ingress != nil:
			env = append(env, corev1.EnvVar{Name: comp.PublicURLEnv, Value: Endpoint(c)})
		}
	}
	if c.Spec.Ingress != nil {
		for _, name := range comp.LinksTo {
			env = append(env, corev1.EnvVar{Name: mustComponent(name).LinkEnv(), Value: Endpoint(c)})
		}
	}
	if comp.Token {
		env = append(env, corev1.EnvVar{Name: "KINSHIP_WORKLOAD_TOKEN_FILE", Value: tokenFile})
	}
	if comp.Settings != nil {
		env = append(env, comp.Settings(c)...)
	}
	return env
}

// signInEnv are the console's settings (cmd/kinship/console.go): the
// community it serves, where browsers reach it, the issuer people sign in
// at and the audience the APIs want, its client, and the file that keeps
// its sessions across container restarts.
func signInEnv(c *kinshipv1alpha1.Community) []corev1.EnvVar {
	public, _ := ConsolePublicURL(c)
	env := []corev1.EnvVar{
		{Name: "KINSHIP_COMMUNITY", Value: c.Name},
		{Name: "KINSHIP_CONSOLE_PUBLIC_URL", Value: public},
		{Name: "AUTH_ISSUER", Value: c.Spec.Auth.Issuer},
		{Name: "AUTH_AUDIENCE", Value: c.Spec.Auth.Audience},
		{Name: "KINSHIP_CONSOLE_CLIENT_ID", Value: c.Spec.Console.ClientIDOrDefault()},
	}
	if c.Spec.Console.ClientSecret != nil {
		env = append(env, corev1.EnvVar{Name: "KINSHIP_CONSOLE_CLIENT_SECRET_FILE", Value: consoleSecretDir + "/" + ConsoleClientSecretKey})
	}
	return append(env, corev1.EnvVar{Name: "KINSHIP_CONSOLE_SESSION_FILE", Value: sessionsFile})
}

// kafkaSecurityEnv are the Kafka TLS and SASL settings every component
// reads (docs/configuration.md, "Kafka and Temporal security"). The files
// are the instance's copies of the referenced Secrets.
func kafkaSecurityEnv(c *kinshipv1alpha1.Community, in Inputs) []corev1.EnvVar {
	var env []corev1.EnvVar
	k := c.Spec.Kafka
	if k.TLSEnabled() {
		env = append(env, corev1.EnvVar{Name: "KAFKA_TLS", Value: "true"})
		if k.TLS.SecretRef != nil {
			env = append(env, tlsFileEnv("KAFKA", kafkaTLSDir, in.KafkaTLS)...)
		}
		if k.TLS.ServerName != "" {
			env = append(env, corev1.EnvVar{Name: "KAFKA_TLS_SERVER_NAME", Value: k.TLS.ServerName})
		}
	}
	if s := k.SASL; s != nil {
		env = append(env,
			corev1.EnvVar{Name: "KAFKA_SASL_MECHANISM", Value: string(s.Mechanism)},
			corev1.EnvVar{Name: "KAFKA_SASL_USERNAME", Value: s.Username},
			corev1.EnvVar{Name: "KAFKA_SASL_PASSWORD_FILE", Value: kafkaSASLDir + "/" + SASLPasswordKey},
		)
	}
	return env
}

// temporalTLSEnv are the worker's Temporal TLS settings. The worker turns
// TLS on when any of them is set; the server name is always set (the
// spec's, else the host of the address, which is what the worker would
// check anyway), so that TLS is on even without a Secret.
func temporalTLSEnv(c *kinshipv1alpha1.Community, in Inputs) []corev1.EnvVar {
	t := c.Spec.Temporal
	if !t.TLSEnabled() {
		return nil
	}
	var env []corev1.EnvVar
	if t.TLS.SecretRef != nil {
		env = append(env, tlsFileEnv("TEMPORAL", temporalTLSDir, in.TemporalTLS)...)
	}
	serverName := t.TLS.ServerName
	if serverName == "" {
		serverName = hostOf(t.Address)
	}
	return append(env, corev1.EnvVar{Name: "TEMPORAL_TLS_SERVER_NAME", Value: serverName})
}

// tlsFileEnv points <prefix>_TLS_CA_FILE, _CERT_FILE and _KEY_FILE at the
// files the mounted copy holds.
func tlsFileEnv(prefix, dir string, files TLSFiles) []corev1.EnvVar {
	var env []corev1.EnvVar
	if files.CA {
		env = append(env, corev1.EnvVar{Name: prefix + "_TLS_CA_FILE", Value: dir + "/" + TLSCAKey})
	}
	if files.ClientCert {
		env = append(env,
			corev1.EnvVar{Name: prefix + "_TLS_CERT_FILE", Value: dir + "/" + TLSCertKey},
			corev1.EnvVar{Name: prefix + "_TLS_KEY_FILE", Value: dir + "/" + TLSKeyKey},
		)
	}
	return env
}

// hostOf is the host of a host:port address.
func hostOf(hostPort string) string {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return hostPort
	}
	return host
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key,
	}}}
}

// inClusterIssuer reports whether the workload issuer is the cluster's own
// API server, whose certificate the cluster CA signs.
func inClusterIssuer(c *kinshipv1alpha1.Community) bool {
	u, err := url.Parse(c.Spec.Auth.WorkloadIssuer)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "kubernetes.default.svc" || strings.HasPrefix(h, "kubernetes.default.svc.")
}

func volumes(c *kinshipv1alpha1.Community, comp Component) []corev1.Volume {
	vs := []corev1.Volume{{
		Name: "tmp",
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: ptr.To(resource.MustParse("64Mi")),
		}},
	}}
	if comp.Token {
		vs = append(vs, corev1.Volume{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: ptr.To[int32](0o440),
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience:          c.Spec.Auth.WorkloadAudience,
				ExpirationSeconds: ptr.To[int64](tokenLifetimeS),
				Path:              "token",
			}}},
		}}})
	}
	if comp.VerifiesTokens && inClusterIssuer(c) {
		vs = append(vs, corev1.Volume{Name: "cluster-ca", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: ptr.To[int32](0o444),
			Sources: []corev1.VolumeProjection{{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: clusterCAMap},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}}},
		}}})
	}
	if comp.UnsubscribeKeys {
		vs = append(vs, corev1.Volume{Name: "communications-keys", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  CommunicationsSecretName(c),
			DefaultMode: ptr.To[int32](0o440),
			Items: []corev1.KeyToPath{
				{Key: UnsubscribeKeyKey, Path: UnsubscribeKeyKey},
				{Key: BounceTokenKey, Path: BounceTokenKey},
			},
		}}})
	}
	// The TLS copies are mounted whole: they hold only the keys the
	// environment names. While a copy does not exist yet the pods wait for
	// it rather than start without it.
	if comp.Kafka && mountsKafkaTLS(c) {
		vs = append(vs, secretVolume("kafka-tls", KafkaTLSSecretName(c), nil))
	}
	if comp.Kafka && c.Spec.Kafka.SASL != nil {
		vs = append(vs, secretVolume("kafka-sasl", KafkaSASLSecretName(c), []corev1.KeyToPath{{Key: SASLPasswordKey, Path: SASLPasswordKey}}))
	}
	if comp.Temporal && mountsTemporalTLS(c) {
		vs = append(vs, secretVolume("temporal-tls", TemporalTLSSecretName(c), nil))
	}
	if comp.SMTP && c.Spec.SMTP.DKIM != nil {
		vs = append(vs, secretVolume("dkim", DKIMSecretName(c), []corev1.KeyToPath{{Key: DKIMKeyKey, Path: DKIMKeyKey}}))
	}
	if comp.SignsIn {
		// Sessions hold access tokens: in memory, never on a node's disk.
		vs = append(vs, corev1.Volume{Name: "sessions", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("16Mi")),
		}}})
		if c.Spec.Console.ClientSecret != nil {
			vs = append(vs, secretVolume("console-secret", ConsoleSecretName(c), []corev1.KeyToPath{{Key: ConsoleClientSecretKey, Path: ConsoleClientSecretKey}}))
		}
	}
	return vs
}

func secretVolume(name, secret string, items []corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, DefaultMode: ptr.To[int32](0o440), Items: items,
	}}}
}

func mountsKafkaTLS(c *kinshipv1alpha1.Community) bool {
	return c.Spec.Kafka.TLSEnabled() && c.Spec.Kafka.TLS.SecretRef != nil
}

func mountsTemporalTLS(c *kinshipv1alpha1.Community) bool {
	return c.Spec.Temporal.TLSEnabled() && c.Spec.Temporal.TLS.SecretRef != nil
}

func volumeMounts(c *kinshipv1alpha1.Community, comp Component) []corev1.VolumeMount {
	ms := []corev1.VolumeMount{{Name: "tmp", MountPath: tmpPath}}
	if comp.Token {
		ms = append(ms, corev1.VolumeMount{Name: "token", MountPath: tokenDir, ReadOnly: true})
	}
	if comp.VerifiesTokens && inClusterIssuer(c) {
		ms = append(ms, corev1.VolumeMount{Name: "cluster-ca", MountPath: clusterCADir, ReadOnly: true})
	}
	if comp.UnsubscribeKeys {
		ms = append(ms, corev1.VolumeMount{Name: "communications-keys", MountPath: communicationsKeysDir, ReadOnly: true})
	}
	if comp.Kafka && mountsKafkaTLS(c) {
		ms = append(ms, corev1.VolumeMount{Name: "kafka-tls", MountPath: kafkaTLSDir, ReadOnly: true})
	}
	if comp.Kafka && c.Spec.Kafka.SASL != nil {
		ms = append(ms, corev1.VolumeMount{Name: "kafka-sasl", MountPath: kafkaSASLDir, ReadOnly: true})
	}
	if comp.Temporal && mountsTemporalTLS(c) {
		ms = append(ms, corev1.VolumeMount{Name: "temporal-tls", MountPath: temporalTLSDir, ReadOnly: true})
	}
	if comp.SMTP && c.Spec.SMTP.DKIM != nil {
		ms = append(ms, corev1.VolumeMount{Name: "dkim", MountPath: dkimDir, ReadOnly: true})
	}
	if comp.SignsIn {
		ms = append(ms, corev1.VolumeMount{Name: "sessions", MountPath: sessionsDir})
		if c.Spec.Console.ClientSecret != nil {
			ms = append(ms, corev1.VolumeMount{Name: "console-secret", MountPath: consoleSecretDir, ReadOnly: true})
		}
	}
	return ms
}

// spread prefers pods of one component on different zones and nodes
// without blocking scheduling on small clusters.
func spread(c *kinshipv1alpha1.Community, comp Component) []corev1.TopologySpreadConstraint {
	sel := &metav1.LabelSelector{MatchLabels: SelectorLabels(c, comp.Name)}
	var out []corev1.TopologySpreadConstraint
	for _, key := range []string{corev1.LabelTopologyZone, corev1.LabelHostname} {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew:           1,
			TopologyKey:       key,
			WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector:     sel,
		})
	}
	return out
}
