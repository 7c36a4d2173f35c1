package resources

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// community is a Community as the API server stores it: every default set.
func community() *kinshipv1alpha1.Community {
	comp := func(replicas int32) kinshipv1alpha1.ComponentSpec {
		return kinshipv1alpha1.ComponentSpec{
			Replicas: ptr.To(replicas),
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
			},
		}
	}
	return &kinshipv1alpha1.Community{
		TypeMeta:   metav1.TypeMeta{APIVersion: "kinship.dev/v1alpha1", Kind: "Community"},
		ObjectMeta: metav1.ObjectMeta{Name: "climate-action", UID: "0c1d2e3f-0000-4000-8000-000000000001", Generation: 1},
		Spec: kinshipv1alpha1.CommunitySpec{
			DisplayName: "Climate Action Riverside",
			Purpose:     "Cut the neighbourhood's emissions by half by 2030.",
			Goals: []kinshipv1alpha1.Goal{{
				Name: "active-members", Metric: "members.active", Target: "500", Deadline: "2027-06-30",
			}},
			Image: kinshipv1alpha1.ImageSpec{Repository: "ghcr.io/kinshiphq/kinship", Tag: "v0.4.0", PullPolicy: corev1.PullIfNotPresent},
			Components: kinshipv1alpha1.ComponentsSpec{Members: comp(3), Events: comp(2), Communications: comp(2), Partners: comp(1), Worker: comp(2),
				Insights: comp(2), Console: kinshipv1alpha1.ConsoleComponentSpec{Replicas: ptr.To[int32](1), Resources: comp(1).Resources}},
			Kafka: kinshipv1alpha1.KafkaSpec{
				BootstrapServers: []string{"kafka-0.kafka.data:9092", "10.0.0.12:9093"},
				Partitions:       6, ReplicationFactor: 3, Retention: &metav1.Duration{Duration: 168 * 3600e9},
				TLS: &kinshipv1alpha1.TLSSpec{
					Enabled:    true,
					SecretRef:  &kinshipv1alpha1.SecretReference{Name: "kinship-cluster-ca-cert"},
					ServerName: "kinship-kafka-bootstrap.kafka.svc",
				},
				SASL: &kinshipv1alpha1.KafkaSASLSpec{
					Mechanism: kinshipv1alpha1.SASLSCRAMSHA512, Username: "climate-action",
					PasswordSecretRef: kinshipv1alpha1.SecretKeyReference{Name: "climate-action", Key: "password"},
				},
			},
			Temporal: kinshipv1alpha1.TemporalSpec{
				Address: "temporal-frontend.temporal:7233", NamespaceRetention: &metav1.Duration{Duration: 168 * 3600e9},
				WebUIURL: "https://temporal.example.org",
				TLS:      &kinshipv1alpha1.TLSSpec{Enabled: true, SecretRef: &kinshipv1alpha1.SecretReference{Name: "temporal-client"}},
			},
			Database: kinshipv1alpha1.DatabaseSpec{AdminSecretRef: kinshipv1alpha1.SecretReference{Name: "postgres-admin"}},
			SMTP: kinshipv1alpha1.SMTPSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "smtp"},
				DKIM: &kinshipv1alpha1.DKIMSpec{SecretRef: kinshipv1alpha1.SecretReference{Name: "dkim"}, Key: "private.key", Selector: "kinship-2026", Domain: "climate.example.org"}},
			Communications: kinshipv1alpha1.CommunicationsSpec{OutboundAllow: []string{"10.20.0.0/16", "fd00:1::7", "chat-bridge.chat.svc.cluster.local", "hooks.partner.example"}},
			Insights: kinshipv1alpha1.InsightsSpec{TimeZone: "Europe/Berlin", ReportSchedule: "fri 17:30",
				AmbassadorQuotas: map[string]int32{"referred_member": 2, "hosted_event": 1}},
			Console: kinshipv1alpha1.ConsoleSpec{Enabled: ptr.To(true), ClientID: "kinship-console",
				ClientSecret: &kinshipv1alpha1.ConsoleClientSecret{SecretRef: kinshipv1alpha1.SecretReference{Name: "console-oidc"}, Key: "client-secret"}},
			Auth: kinshipv1alpha1.AuthSpec{
				Issuer: "https://id.example.org", Audience: "kinship",
				WorkloadIssuer: "https://kubernetes.default.svc.cluster.local", WorkloadAudience: "kinship-workload",
			},
			OpenTelemetry:  kinshipv1alpha1.OpenTelemetrySpec{Endpoint: "http://otel-collector.observability:4317"},
			Ingress:        &kinshipv1alpha1.IngressSpec{Host: "climate.example.org", ClassName: "nginx", TLSSecretName: "climate-tls"},
			DeletionPolicy: kinshipv1alpha1.DeletionPolicyRetain,
		},
	}
}

// inputs are what the controller found: the Kafka TLS Secret holds a CA
// (Strimzi's cluster CA), the Temporal one a CA and a client certificate;
// the operator runs as kinship-operator in kinship-system.
func inputs() Inputs {
	return Inputs{Database: "postgres.data.svc:5432", SMTP: "192.0.2.25:587", SecretsHash: "5ec2e75ec2e75ec2",
		KafkaTLS: TLSFiles{CA: true}, TemporalTLS: TLSFiles{CA: true, ClientCert: true}, APIServer: "10.96.0.1:443",
		OperatorNamespace: "kinship-system", OperatorServiceAccount: "kinship-operator"}
}

// minimal has no ingress, no collector, an external workload issuer and one
// replica each, and is suspended.
func minimal() *kinshipv1alpha1.Community {
	c := community()
	c.Name = "tiny"
	c.Spec.Goals = nil
	c.Spec.Ingress = nil
	c.Spec.OpenTelemetry = kinshipv1alpha1.OpenTelemetrySpec{}
	c.Spec.Auth.WorkloadIssuer = "https://oidc.eks.example.com/id/ABC"
	c.Spec.Kafka.BootstrapServers = []string{"kafka:9092"}
	c.Spec.Kafka.TLS, c.Spec.Kafka.SASL, c.Spec.Temporal.TLS, c.Spec.Temporal.WebUIURL = nil, nil, nil, ""
	c.Spec.SMTP.DKIM = nil
	c.Spec.Communications = kinshipv1alpha1.CommunicationsSpec{}
	c.Spec.Insights = kinshipv1alpha1.InsightsSpec{}
	c.Spec.Console = kinshipv1alpha1.ConsoleSpec{Enabled: ptr.To(true), ClientID: "kinship-console"}
	c.Spec.Suspend = true
	return c
}

func render(t *testing.T, objs ...client.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatalf("marshal %T: %v", o, err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/resources -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the builders produce; review the change and run go test ./internal/resources -update\n--- got\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *kinshipv1alpha1.Community
	}{
		{"full", community()},
		{"minimal", minimal()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := []client.Object{
				BuildNamespace(tc.c),
				BuildDatabaseSecret(tc.c, "postgres://kinship_x:secret@postgres.data.svc:5432/kinship_x?sslmode=require"),
				BuildSMTPSecret(tc.c, "smtp+starttls://mailer:pw@192.0.2.25:587", "Kinship <no-reply@example.org>"),
				BuildCommunicationsSecret(tc.c, "unsubscribe-key-of-at-least-32-bytes", "bounce-token"),
			}
			if tc.c.Spec.Kafka.TLS != nil {
				objs = append(objs,
					BuildKafkaTLSSecret(tc.c, map[string][]byte{"ca.crt": []byte("-----BEGIN CERTIFICATE-----\nkafka CA\n"), "ca.p12": []byte("dropped")}),
					BuildKafkaSASLSecret(tc.c, []byte("scram-password")),
					BuildTemporalTLSSecret(tc.c, map[string][]byte{"ca.crt": []byte("temporal CA"), "tls.crt": []byte("client cert"), "tls.key": []byte("client key")}),
				)
			}
			if tc.c.Spec.SMTP.DKIM != nil {
				objs = append(objs, BuildDKIMSecret(tc.c, []byte("-----BEGIN PRIVATE KEY-----\ndkim key\n")))
			}
			if tc.c.Spec.Console.ClientSecret != nil {
				objs = append(objs, BuildConsoleSecret(tc.c, []byte("console-client-secret")))
			}
			objs = append(objs, BuildRoleBinding(tc.c, "kinship-operator-instance",
				rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "kinship-system", Name: "kinship-operator"}))
			objs = append(objs, Workloads(tc.c, inputs())...)
			golden(t, tc.name+".golden.yaml", render(t, objs...))
		})
	}
}

func TestBuildersAreDeterministic(t *testing.T) {
	a := render(t, Workloads(community(), inputs())...)
	for range 20 {
		if b := render(t, Workloads(community(), inputs())...); !bytes.Equal(a, b) {
			t.Fatal("two builds of the same Community differ")
		}
	}
}

func deployments(objs []client.Object) map[string]*appsv1.Deployment {
	out := map[string]*appsv1.Deployment{}
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			out[d.Name] = d
		}
	}
	return out
}

func TestEveryPodMeetsPodSecurityRestricted(t *testing.T) {
	deps := deployments(Workloads(community(), inputs()))
	if len(deps) != 7 {
		t.Fatalf("got %d deployments, want one per component (7)", len(deps))
	}
	for name, d := range deps {
		pod := d.Spec.Template.Spec
		if !ptr.Deref(pod.SecurityContext.RunAsNonRoot, false) || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod must run as non-root with seccomp RuntimeDefault", name)
		}
		if ptr.Deref(pod.AutomountServiceAccountToken, true) {
			t.Errorf("%s: pods must not mount an API token", name)
		}
		for _, ctr := range pod.Containers {
			sc := ctr.SecurityContext
			if ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
				!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s/%s: container security context is not restricted: %+v", name, ctr.Name, sc)
			}
			if ctr.LivenessProbe.HTTPGet.Path != "/healthz" || ctr.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("%s: probes must be /healthz and /readyz", name)
			}
			if !slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) {
				t.Errorf("%s: /tmp must be a writable emptyDir under a read-only root", name)
			}
			if !slices.Equal(ctr.Args, []string{name}) {
				t.Errorf("%s: args = %v, want the component's subcommand", name, ctr.Args)
			}
		}
	}
}

func envOf(d *appsv1.Deployment) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		out[e.Name] = e
	}
	return out
}

func TestComponentsGetTheSettingsTheirSubcommandReads(t *testing.T) {
	c := community()
	deps := deployments(Workloads(c, inputs()))
	// Every component with an API verifies tokens: the services, the
	// worker's journeys API and the insights service. Every one trusts the
	// instance's workload subject; the insights service and the worker,
	// which the operator calls, the operator's too.
	for _, name := range []string{"members", "communications", "events", "partners", "worker", "insights"} {
		env := envOf(deps[name])
		for _, key := range []string{"KINSHIP_HTTP_ADDR", "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_WORKLOAD_SUBJECTS", "AUTH_WORKLOAD_ISSUER", "AUTH_WORKLOAD_AUDIENCE"} {
			if _, ok := env[key]; !ok {
				t.Errorf("%s lacks %s", name, key)
			}
		}
		want := "system:serviceaccount:kinship-climate-action:kinship"
		if name == "insights" || name == "worker" {
			want += ",system:serviceaccount:kinship-system:kinship-operator"
		}
		if got := env["AUTH_WORKLOAD_SUBJECTS"].Value; got != want {
			t.Errorf("%s: AUTH_WORKLOAD_SUBJECTS = %q, want %q", name, got, want)
		}
		// The workload issuer is the API server: its CA comes from kube-root-ca.crt.
		if env["AUTH_WORKLOAD_CA_FILE"].Value != "/var/run/secrets/kinship/cluster-ca/ca.crt" || !mounts(deps[name], "/var/run/secrets/kinship/cluster-ca") {
			t.Errorf("%s must trust the cluster CA for the in-cluster workload issuer", name)
		}
	}
	for _, name := range []string{"members", "communications", "events", "partners", "insights", "worker"} {
		env := envOf(deps[name])
		if ref := env["DATABASE_URL"].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "climate-action-database" || ref.SecretKeyRef.Key != "url" {
			t.Errorf("%s: DATABASE_URL must come from the generated Secret, got %+v", name, env["DATABASE_URL"])
		}
	}
	for _, name := range []string{"members", "communications", "events", "partners"} {
		if _, ok := minimalEnv(t, name)["AUTH_WORKLOAD_CA_FILE"]; ok {
			t.Errorf("%s: an external workload issuer needs no cluster CA", name)
		}
	}
	if _, ok := minimalEnv(t, "worker")["AUTH_WORKLOAD_CA_FILE"]; ok {
		t.Error("worker: an external workload issuer needs no cluster CA")
	}

	comm := envOf(deps["communications"])
	for _, key := range []string{"SMTP_URL", "SMTP_FROM"} {
		if ref := comm[key].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "climate-action-smtp" {
			t.Errorf("communications: %s must come from the SMTP Secret", key)
		}
	}
	wantComm := map[string]string{
		"KINSHIP_PUBLIC_URL":           "https://climate.example.org",
		"KINSHIP_EVENTS_PUBLIC_URL":    "https://climate.example.org",
		"KINSHIP_UNSUBSCRIBE_KEY_FILE": "/var/run/secrets/kinship/communications/unsubscribe-key",
		"KINSHIP_BOUNCE_TOKEN_FILE":    "/var/run/secrets/kinship/communications/bounce-token",
	}
	for k, v := range wantComm {
		if comm[k].Value != v {
			t.Errorf("communications %s = %q, want %q", k, comm[k].Value, v)
		}
	}
	keys := volume(deps["communications"], "communications-keys")
	if keys == nil || keys.Secret == nil || keys.Secret.SecretName != "climate-action-communications" || !mountsReadOnly(deps["communications"], "/var/run/secrets/kinship/communications") {
		t.Errorf("communications must mount the generated keys read-only: %+v", keys)
	}
	for name, d := range deps {
		if name != "communications" && volume(d, "communications-keys") != nil {
			t.Errorf("%s must not see the communications keys", name)
		}
	}
	tiny := minimalEnv(t, "communications")
	if tiny["KINSHIP_PUBLIC_URL"].Value != "http://communications.kinship-tiny.svc:8082" {
		t.Errorf("without an ingress the public url is the in-cluster one, got %q", tiny["KINSHIP_PUBLIC_URL"].Value)
	}
	if _, ok := tiny["KINSHIP_EVENTS_PUBLIC_URL"]; ok {
		t.Error("without an ingress digests carry no calendar links")
	}

	for _, name := range []string{"communications", "events", "partners", "worker", "insights"} {
		env := envOf(deps[name])
		if env["KINSHIP_MEMBERS_URL"].Value != "http://members.kinship-climate-action.svc:8081" || env["KINSHIP_WORKLOAD_TOKEN_FILE"].Value == "" {
			t.Errorf("%s must reach the members API with its own token: %v", name, env)
		}
	}
	if got := envOf(deps["events"])["KINSHIP_EVENTS_PUBLIC_URL"].Value; got != "https://climate.example.org" {
		t.Errorf("events public url = %q", got)
	}
	if _, ok := minimalEnv(t, "events")["KINSHIP_EVENTS_PUBLIC_URL"]; ok {
		t.Error("without an ingress the calendar links stay relative")
	}
	worker := envOf(deps["worker"])
	want := map[string]string{
		"KINSHIP_HTTP_ADDR":           ":8083",
		"TEMPORAL_ADDRESS":            "temporal-frontend.temporal:7233",
		"KINSHIP_MEMBERS_URL":         "http://members.kinship-climate-action.svc:8081",
		"KINSHIP_COMMUNICATIONS_URL":  "http://communications.kinship-climate-action.svc:8082",
		"KINSHIP_EVENTS_URL":          "http://events.kinship-climate-action.svc:8085",
		"KINSHIP_PARTNERS_URL":        "http://partners.kinship-climate-action.svc:8086",
		"KINSHIP_INSIGHTS_URL":        "http://insights.kinship-climate-action.svc:8087",
		"KINSHIP_WORKLOAD_TOKEN_FILE": "/var/run/secrets/kinship/token/token",
		// Journeys link to their workflows in the Temporal Web UI.
		"KINSHIP_TEMPORAL_UI_URL": "https://temporal.example.org",
	}
	for k, v := range want {
		if worker[k].Value != v {
			t.Errorf("worker %s = %q, want %q", k, worker[k].Value, v)
		}
	}
	if _, ok := minimalEnv(t, "worker")["KINSHIP_TEMPORAL_UI_URL"]; ok {
		t.Error("without spec.temporal.webUIURL the worker must get no UI address (journeys carry no link)")
	}
	if _, ok := envOf(deps["members"])["KINSHIP_WORKLOAD_TOKEN_FILE"]; ok {
		t.Error("members calls no other component and needs no token of its own")
	}
	cm := BuildConfigMap(c)
	if cm.Data["KINSHIP_COMMUNITIES"] != "climate-action" || cm.Data["KAFKA_BROKERS"] != "kafka-0.kafka.data:9092,10.0.0.12:9093" ||
		cm.Data["LOG_FORMAT"] != "json" || cm.Data["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://otel-collector.observability:4317" {
		t.Errorf("shared settings: %v", cm.Data)
	}
	for name, d := range deps {
		if d.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name != cm.Name {
			t.Errorf("%s does not read the shared ConfigMap", name)
		}
	}
}

// minimalEnv is the environment of one component of minimal().
func minimalEnv(t *testing.T, name string) map[string]corev1.EnvVar {
	t.Helper()
	d := deployments(Workloads(minimal(), inputs()))[name]
	if d == nil {
		t.Fatalf("no deployment %s", name)
	}
	return envOf(d)
}

func volume(d *appsv1.Deployment, name string) *corev1.Volume {
	for i, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

func mounts(d *appsv1.Deployment, path string) bool {
	return slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == path })
}

func mountsReadOnly(d *appsv1.Deployment, path string) bool {
	return slices.ContainsFunc(d.Spec.Template.Spec.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == path && m.ReadOnly })
}

// Every component's description agrees with itself and the others: what
// the Ingress routes to has a Service and verifies tokens, and what a
// component calls or links to exists and has a Service.
func TestComponentsAreConsistent(t *testing.T) {
	for _, comp := range Components() {
		if comp.Routed() && (!comp.Service || !comp.VerifiesTokens) {
			t.Errorf("%s: the Ingress routes to it, so it needs a Service and verifies tokens", comp.Name)
		}
		// The console calls the APIs with the signed-in person's token.
		if len(comp.Calls) > 0 && !comp.Token && !comp.SignsIn {
			t.Errorf("%s calls %v, so it needs a token of its own", comp.Name, comp.Calls)
		}
		if comp.SignsIn && (comp.Token || comp.Database || comp.Kafka || comp.Temporal || comp.VerifiesTokens || !comp.Service) {
			t.Errorf("%s signs people in: a Service, and no credentials, database, Kafka or Temporal of its own", comp.Name)
		}
		for _, name := range append(append([]string(nil), comp.Calls...), comp.LinksTo...) {
			callee, ok := ComponentByName(name)
			if !ok || !callee.Service || callee.Name == comp.Name {
				t.Errorf("%s calls or links to %q, which is no other component with a Service", comp.Name, name)
			}
		}
	}
	services := map[string]string{}
	for _, comp := range Components() {
		for _, svc := range comp.ConnectServices {
			if other, dup := services[svc]; dup {
				t.Errorf("%s is routed to both %s and %s", svc, other, comp.Name)
			}
			services[svc] = comp.Name
		}
	}
}

func TestChangingTheSpecRollsThePods(t *testing.T) {
	a := community()
	b := community()
	b.Spec.Kafka.BootstrapServers = []string{"kafka-new:9092"}
	da := BuildDeployment(a, Components()[0], inputs())
	db := BuildDeployment(b, Components()[0], inputs())
	if da.Spec.Template.Annotations[AnnotationConfigHash] == db.Spec.Template.Annotations[AnnotationConfigHash] {
		t.Error("new brokers must change the pod template so pods restart with them")
	}
	in := inputs()
	in.SecretsHash = "other"
	if BuildDeployment(a, Components()[0], in).Spec.Template.Annotations[AnnotationSecretsHash] == da.Spec.Template.Annotations[AnnotationSecretsHash] {
		t.Error("new credentials must change the pod template")
	}
}

func TestSuspendScalesEveryComponentToZero(t *testing.T) {
	for name, d := range deployments(Workloads(minimal(), inputs())) {
		if *d.Spec.Replicas != 0 {
			t.Errorf("%s has %d replicas while suspended", name, *d.Spec.Replicas)
		}
	}
}

func TestNetworkPolicyAllowsOnlyTheDependencies(t *testing.T) {
	np := BuildNetworkPolicy(community(), inputs())
	sel := np.Spec.PodSelector
	if len(sel.MatchLabels) != 0 || len(sel.MatchExpressions) != 1 || sel.MatchExpressions[0].Operator != metav1.LabelSelectorOpNotIn ||
		!slices.Equal(sel.MatchExpressions[0].Values, []string{"console"}) || len(np.Spec.PolicyTypes) != 2 {
		t.Fatalf("the policy must select every pod of the instance but the console's, for ingress and egress: %+v", sel)
	}
	ports := map[string]bool{}
	var pinned []string
	for _, r := range np.Spec.Egress {
		for _, to := range r.To {
			if to.IPBlock != nil && len(to.IPBlock.Except) == 0 {
				pinned = append(pinned, to.IPBlock.CIDR)
			}
		}
		for _, p := range r.Ports {
			ports[string(*p.Protocol)+"/"+p.Port.String()] = true
		}
	}
	// Kafka 9092 and 9093, Temporal 7233, PostgreSQL 5432, SMTP 587,
	// collector 4317, issuers 443, DNS 53.
	for _, want := range []string{"TCP/9092", "TCP/9093", "TCP/7233", "TCP/5432", "TCP/587", "TCP/4317", "TCP/443", "UDP/53", "TCP/53"} {
		if !ports[want] {
			t.Errorf("egress to %s is not allowed", want)
		}
	}
	if len(ports) != 9 {
		t.Errorf("egress allows more than the dependencies: %v", ports)
	}
	slices.Sort(pinned)
	// A Kafka broker and the mail server given as addresses, and the API
	// server (the in-cluster workload issuer), whose address the operator
	// knows.
	if !slices.Equal(pinned, []string{"10.0.0.12/32", "10.96.0.1/32", "192.0.2.25/32"}) {
		t.Errorf("destinations given as addresses must be pinned, got %v", pinned)
	}

	// With an Ingress, ingress controllers in other namespaces reach every
	// port the Ingress routes to, the worker's journeys API and the
	// insights API included (the console's is in its own policy); the
	// operator's namespace reaches the worker, whose journey definitions
	// it publishes, and the insights service, whose goals it syncs.
	if len(np.Spec.Ingress) != 3 || np.Spec.Ingress[1].From[0].NamespaceSelector == nil {
		t.Fatalf("ingress rules: %+v", np.Spec.Ingress)
	}
	portsOf := func(rule networkingv1.NetworkPolicyIngressRule) []string {
		var open []string
		for _, p := range rule.Ports {
			open = append(open, p.Port.String())
		}
		return open
	}
	if open := portsOf(np.Spec.Ingress[1]); !slices.Equal(open, []string{"8081", "8082", "8083", "8085", "8086", "8087"}) {
		t.Errorf("ports open to the ingress controllers: %v", open)
	}
	operator := np.Spec.Ingress[2]
	if len(operator.From) != 1 || operator.From[0].NamespaceSelector == nil ||
		operator.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "kinship-system" || !slices.Equal(portsOf(operator), []string{"8083", "8087"}) {
		t.Errorf("the operator's namespace must reach the worker and the insights service alone: %+v", operator)
	}
	rules := BuildNetworkPolicy(minimal(), inputs()).Spec.Ingress
	if len(rules) != 2 || rules[1].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "kinship-system" {
		t.Errorf("without an Ingress only the instance's own pods and the operator get in: %+v", rules)
	}
	in := inputs()
	in.OperatorNamespace = ""
	if rules := BuildNetworkPolicy(minimal(), in).Spec.Ingress; len(rules) != 1 {
		t.Errorf("without the operator's namespace only the instance's own pods get in: %+v", rules)
	}
}

func TestIngressRoutesEveryAPI(t *testing.T) {
	ing := BuildIngress(community())
	backends := map[string]string{}
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		backends[p.Path] = p.Backend.Service.Name
	}
	want := map[string]string{
		"/kinship.members.v1.MembersService":               "members",
		"/kinship.communications.v1.CommunicationsService": "communications",
		"/unsubscribe":                         "communications",
		"/bounces":                             "communications",
		"/kinship.events.v1.EventsService":     "events",
		"/calendar":                            "events",
		"/kinship.partners.v1.ReportsService":  "partners",
		"/kinship.journeys.v1.JourneysService": "worker",
		"/kinship.insights.v1.InsightsService": "insights",
		"/kinship.insights.v1.GoalsService":    "insights",
		"/":                                    "console",
	}
	for path, comp := range want {
		if backends[path] != comp {
			t.Errorf("%s is routed to %q, want %s (routes: %v)", path, backends[path], comp, backends)
		}
	}
	objs := Workloads(community(), inputs())
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		if !slices.ContainsFunc(objs, func(o client.Object) bool {
			svc, ok := o.(*corev1.Service)
			return ok && svc.Name == p.Backend.Service.Name && svc.Spec.Ports[0].Name == p.Backend.Service.Port.Name
		}) {
			t.Errorf("%s is routed to %s, which has no Service with that port", p.Path, p.Backend.Service.Name)
		}
	}
	if ing.Spec.TLS[0].SecretName != "climate-tls" || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("tls/class not set: %+v", ing.Spec)
	}
	if BuildIngress(minimal()) != nil {
		t.Error("no ingress must be built without spec.ingress")
	}
	if got := Endpoint(community()); got != "https://climate.example.org" {
		t.Errorf("endpoint = %q", got)
	}
	if got := Endpoint(minimal()); got != "http://members.kinship-tiny.svc:8081" {
		t.Errorf("endpoint = %q", got)
	}
}

func TestEveryObjectIsOwnedAndLabelled(t *testing.T) {
	c := community()
	objs := append(Workloads(c, inputs()), BuildNamespace(c), BuildDatabaseSecret(c, "u"), BuildSMTPSecret(c, "u", "f"), BuildCommunicationsSecret(c, "k", "t"),
		BuildKafkaTLSSecret(c, map[string][]byte{"ca.crt": []byte("ca")}), BuildKafkaSASLSecret(c, []byte("pw")), BuildTemporalTLSSecret(c, map[string][]byte{"ca.crt": []byte("ca")}),
		BuildDKIMSecret(c, []byte("key")), BuildRoleBinding(c, "role", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "ns", Name: "sa"}))
	for _, o := range objs {
		refs := o.GetOwnerReferences()
		if len(refs) != 1 || refs[0].UID != c.UID || !ptr.Deref(refs[0].Controller, false) {
			t.Errorf("%T %s: owner references %v", o, o.GetName(), refs)
		}
		if o.GetLabels()[LabelManagedBy] != ManagedBy || o.GetLabels()[LabelCommunity] != c.Name {
			t.Errorf("%T %s lacks the managed-by or community label", o, o.GetName())
		}
		if _, isNS := o.(*corev1.Namespace); !isNS && o.GetNamespace() != "kinship-climate-action" {
			t.Errorf("%T %s is in namespace %q", o, o.GetName(), o.GetNamespace())
		}
	}
}

func TestNames(t *testing.T) {
	c := community()
	if got := strings.Join(TopicNames(c), " "); got != "climate-action.members.v1 climate-action.members.v1.dlq climate-action.events.v1 climate-action.events.v1.dlq "+
		"climate-action.communications.v1 climate-action.communications.v1.dlq climate-action.partners.v1 climate-action.partners.v1.dlq" {
		t.Errorf("topics: %s", got)
	}
	if DatabaseName(c) != "kinship_climate_action" || TemporalNamespace(c) != "climate-action" || Namespace(c) != "kinship-climate-action" {
		t.Error("names do not follow the conventions")
	}
}

func TestKafkaAndTemporalSecurityReachTheComponents(t *testing.T) {
	c := community()
	deps := deployments(Workloads(c, inputs()))
	kafka := map[string]string{
		"KAFKA_TLS":                "true",
		"KAFKA_TLS_CA_FILE":        "/var/run/secrets/kinship/kafka-tls/ca.crt",
		"KAFKA_TLS_SERVER_NAME":    "kinship-kafka-bootstrap.kafka.svc",
		"KAFKA_SASL_MECHANISM":     "SCRAM-SHA-512",
		"KAFKA_SASL_USERNAME":      "climate-action",
		"KAFKA_SASL_PASSWORD_FILE": "/var/run/secrets/kinship/kafka-sasl/password",
	}
	temporal := map[string]string{
		"TEMPORAL_TLS_CA_FILE":     "/var/run/secrets/kinship/temporal-tls/ca.crt",
		"TEMPORAL_TLS_CERT_FILE":   "/var/run/secrets/kinship/temporal-tls/tls.crt",
		"TEMPORAL_TLS_KEY_FILE":    "/var/run/secrets/kinship/temporal-tls/tls.key",
		"TEMPORAL_TLS_SERVER_NAME": "temporal-frontend.temporal",
	}
	for name, d := range deps {
		env := envOf(d)
		if name == "console" {
			// The console talks to no broker: no Kafka setting, no file.
			for k := range env {
				if strings.HasPrefix(k, "KAFKA_") {
					t.Errorf("console gets %s", k)
				}
			}
			if volume(d, "kafka-tls") != nil || volume(d, "kafka-sasl") != nil {
				t.Error("console mounts Kafka material")
			}
			continue
		}
		for k, v := range kafka {
			if env[k].Value != v {
				t.Errorf("%s: %s = %q, want %q", name, k, env[k].Value, v)
			}
		}
		// The Kafka TLS Secret holds no client certificate.
		for _, k := range []string{"KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE"} {
			if _, ok := env[k]; ok {
				t.Errorf("%s: %s is set, but the Secret has no client certificate", name, k)
			}
		}
		if v := volume(d, "kafka-tls"); v == nil || v.Secret == nil || v.Secret.SecretName != "climate-action-kafka-tls" || !mountsReadOnly(d, "/var/run/secrets/kinship/kafka-tls") {
			t.Errorf("%s must mount the copy of the Kafka TLS Secret read-only: %+v", name, v)
		}
		if v := volume(d, "kafka-sasl"); v == nil || v.Secret == nil || v.Secret.SecretName != "climate-action-kafka-sasl" || !mountsReadOnly(d, "/var/run/secrets/kinship/kafka-sasl") {
			t.Errorf("%s must mount the copy of the SASL password read-only: %+v", name, v)
		}
		for k, v := range temporal {
			if got, ok := env[k]; name == "worker" && got.Value != v {
				t.Errorf("worker: %s = %q, want %q", k, got.Value, v)
			} else if name != "worker" && ok {
				t.Errorf("%s does not talk to Temporal but gets %s", name, k)
			}
		}
		if v := volume(d, "temporal-tls"); (v != nil) != (name == "worker") || (name == "worker" && !mountsReadOnly(d, "/var/run/secrets/kinship/temporal-tls")) {
			t.Errorf("%s: temporal-tls volume %+v; only the worker mounts it, read-only", name, v)
		}
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && strings.Contains(e.ValueFrom.SecretKeyRef.Name, "kafka") {
				t.Errorf("%s: %s puts a Kafka secret into the environment; secrets go in files", name, e.Name)
			}
		}
	}

	// Plaintext Kafka and Temporal: nothing of the above.
	for name, d := range deployments(Workloads(minimal(), inputs())) {
		for k := range envOf(d) {
			if strings.HasPrefix(k, "KAFKA_TLS") || strings.HasPrefix(k, "KAFKA_SASL") || strings.HasPrefix(k, "TEMPORAL_TLS") {
				t.Errorf("%s: %s set without TLS or SASL", name, k)
			}
		}
		for _, v := range []string{"kafka-tls", "kafka-sasl", "temporal-tls"} {
			if volume(d, v) != nil {
				t.Errorf("%s mounts %s without TLS or SASL", name, v)
			}
		}
	}

	// TLS with the system's CAs: no Secret, no files. The worker's server
	// name turns TLS to Temporal on.
	sys := minimal()
	sys.Spec.Kafka.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true}
	sys.Spec.Temporal.TLS = &kinshipv1alpha1.TLSSpec{Enabled: true}
	worker := deployments(Workloads(sys, inputs()))["worker"]
	env := envOf(worker)
	if env["KAFKA_TLS"].Value != "true" || env["TEMPORAL_TLS_SERVER_NAME"].Value != "temporal-frontend.temporal" {
		t.Errorf("TLS with the system's CAs: %v", env)
	}
	for _, k := range []string{"KAFKA_TLS_CA_FILE", "KAFKA_TLS_SERVER_NAME", "TEMPORAL_TLS_CA_FILE", "TEMPORAL_TLS_CERT_FILE"} {
		if _, ok := env[k]; ok {
			t.Errorf("TLS with the system's CAs: %s is set", k)
		}
	}
	if volume(worker, "kafka-tls") != nil || volume(worker, "temporal-tls") != nil {
		t.Error("TLS with the system's CAs mounts no Secret")
	}
	// TLS turned off with settings left behind: plaintext.
	sys.Spec.Kafka.TLS = &kinshipv1alpha1.TLSSpec{Enabled: false}
	sys.Spec.Temporal.TLS = &kinshipv1alpha1.TLSSpec{Enabled: false}
	for k := range envOf(deployments(Workloads(sys, inputs()))["worker"]) {
		if strings.HasPrefix(k, "KAFKA_TLS") || strings.HasPrefix(k, "TEMPORAL_TLS") {
			t.Errorf("TLS disabled: %s is set", k)
		}
	}

	// Before the copies exist the pods mount them (and wait for them) but
	// name no files.
	early := deployments(Workloads(c, Inputs{}))["worker"]
	if volume(early, "kafka-tls") == nil || volume(early, "temporal-tls") == nil {
		t.Error("the TLS copies must be mounted before they exist, so that pods wait for them")
	}
	for _, k := range []string{"KAFKA_TLS_CA_FILE", "TEMPORAL_TLS_CA_FILE", "TEMPORAL_TLS_CERT_FILE"} {
		if _, ok := envOf(early)[k]; ok {
			t.Errorf("%s names a file of a copy that does not exist yet", k)
		}
	}

	// The copies keep only the non-empty keys of the cert-manager layout.
	s := BuildKafkaTLSSecret(c, map[string][]byte{"ca.crt": []byte("ca"), "ca.p12": []byte("p12"), "tls.crt": []byte("c"), "tls.key": nil})
	if len(s.Data) != 2 || string(s.Data["ca.crt"]) != "ca" || string(s.Data["tls.crt"]) != "c" {
		t.Errorf("Kafka TLS copy holds %v, want ca.crt and tls.crt", s.Data)
	}
	if got := TLSFilesOf(map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}); got != (TLSFiles{ClientCert: true}) {
		t.Errorf("TLSFilesOf = %+v", got)
	}
}
