package resources

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// The insights service runs `kinship insights` on 8087 with the database,
// Kafka, token checks, its own token and the four services' URLs, and
// gets spec.insights' settings; unset ones are left to its defaults.
func TestTheInsightsServiceGetsItsSettings(t *testing.T) {
	d := deployments(Workloads(community(), inputs()))["insights"]
	if d == nil {
		t.Fatal("no insights Deployment")
	}
	if !slices.Equal(d.Spec.Template.Spec.Containers[0].Args, []string{"insights"}) || *d.Spec.Replicas != 2 {
		t.Errorf("insights runs %v with %d replicas", d.Spec.Template.Spec.Containers[0].Args, *d.Spec.Replicas)
	}
	env := envOf(d)
	want := map[string]string{
		"KINSHIP_HTTP_ADDR":           ":8087",
		"KINSHIP_MEMBERS_URL":         "http://members.kinship-climate-action.svc:8081",
		"KINSHIP_EVENTS_URL":          "http://events.kinship-climate-action.svc:8085",
		"KINSHIP_COMMUNICATIONS_URL":  "http://communications.kinship-climate-action.svc:8082",
		"KINSHIP_PARTNERS_URL":        "http://partners.kinship-climate-action.svc:8086",
		"KINSHIP_WORKLOAD_TOKEN_FILE": "/var/run/secrets/kinship/token/token",
		"KINSHIP_TIME_ZONE":           "Europe/Berlin",
		"KINSHIP_REPORT_SCHEDULE":     "fri 17:30",
		// By activity type, whatever the map's order.
		"KINSHIP_AMBASSADOR_QUOTAS": "hosted_event:1,referred_member:2",
		"KAFKA_TLS":                 "true",
	}
	for k, v := range want {
		if env[k].Value != v {
			t.Errorf("insights %s = %q, want %q", k, env[k].Value, v)
		}
	}
	if ref := env["DATABASE_URL"].ValueFrom; ref == nil || ref.SecretKeyRef.Name != "climate-action-database" {
		t.Errorf("insights DATABASE_URL = %+v", env["DATABASE_URL"])
	}
	tiny := minimalEnv(t, "insights")
	for _, k := range []string{"KINSHIP_TIME_ZONE", "KINSHIP_REPORT_SCHEDULE", "KINSHIP_AMBASSADOR_QUOTAS"} {
		if _, ok := tiny[k]; ok {
			t.Errorf("without spec.insights, %s is set", k)
		}
	}
	// Nobody else gets them.
	for name, d := range deployments(Workloads(community(), inputs())) {
		if _, ok := envOf(d)["KINSHIP_TIME_ZONE"]; ok && name != "insights" {
			t.Errorf("%s gets the insights time zone", name)
		}
	}
}

// The console runs `kinship console` on 8080 with what its subcommand
// reads, calls every API with the signed-in person's token — so it gets
// no token, no database, no Kafka and no Temporal of its own — and keeps
// its sessions in a memory-backed emptyDir under its read-only root.
func TestTheConsoleGetsWhatItsSubcommandReads(t *testing.T) {
	c := community()
	objs := Workloads(c, inputs())
	d := deployments(objs)["console"]
	if d == nil {
		t.Fatal("no console Deployment")
	}
	if *d.Spec.Replicas != 1 || !slices.Equal(d.Spec.Template.Spec.Containers[0].Args, []string{"console"}) {
		t.Errorf("console: %d replicas, args %v", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Args)
	}
	env := envOf(d)
	want := map[string]string{
		"KINSHIP_HTTP_ADDR":                  ":8080",
		"KINSHIP_COMMUNITY":                  "climate-action",
		"KINSHIP_CONSOLE_PUBLIC_URL":         "https://climate.example.org",
		"AUTH_ISSUER":                        "https://id.example.org",
		"AUTH_AUDIENCE":                      "kinship",
		"KINSHIP_CONSOLE_CLIENT_ID":          "kinship-console",
		"KINSHIP_CONSOLE_CLIENT_SECRET_FILE": "/var/run/secrets/kinship/console/client-secret",
		"KINSHIP_CONSOLE_SESSION_FILE":       "/var/run/kinship/sessions/sessions.json",
		"KINSHIP_MEMBERS_URL":                "http://members.kinship-climate-action.svc:8081",
		"KINSHIP_EVENTS_URL":                 "http://events.kinship-climate-action.svc:8085",
		"KINSHIP_COMMUNICATIONS_URL":         "http://communications.kinship-climate-action.svc:8082",
		"KINSHIP_PARTNERS_URL":               "http://partners.kinship-climate-action.svc:8086",
		"KINSHIP_JOURNEYS_URL":               "http://worker.kinship-climate-action.svc:8083",
		"KINSHIP_INSIGHTS_URL":               "http://insights.kinship-climate-action.svc:8087",
	}
	for k, v := range want {
		if env[k].Value != v {
			t.Errorf("console %s = %q, want %q", k, env[k].Value, v)
		}
	}
	for k := range env {
		if _, ok := want[k]; !ok {
			t.Errorf("console gets %s, which it does not read", k)
		}
	}
	if v := volume(d, "console-secret"); v == nil || v.Secret == nil || v.Secret.SecretName != "climate-action-console" ||
		!mountsReadOnly(d, "/var/run/secrets/kinship/console") {
		t.Errorf("the client secret must be mounted read-only from the instance's copy: %+v", v)
	}
	if v := volume(d, "sessions"); v == nil || v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory || !mounts(d, "/var/run/kinship/sessions") {
		t.Errorf("sessions need a memory-backed emptyDir: %+v", v)
	}
	for _, v := range []string{"token", "cluster-ca", "kafka-tls", "kafka-sasl", "temporal-tls", "dkim", "communications-keys"} {
		if volume(d, v) != nil {
			t.Errorf("the console mounts %s", v)
		}
	}
	for _, o := range objs {
		if svc, ok := o.(*corev1.Service); ok && svc.Name == "console" && svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
			t.Errorf("the console's Service must keep a client on one pod: %+v", svc.Spec)
		}
	}
	// A public client: no secret, no file.
	c.Spec.Console.ClientSecret = nil
	d = deployments(Workloads(c, inputs()))["console"]
	if _, ok := envOf(d)["KINSHIP_CONSOLE_CLIENT_SECRET_FILE"]; ok || volume(d, "console-secret") != nil {
		t.Error("a public client needs no secret")
	}
	// Replicas left unset: one, as the CRD's default.
	c.Spec.Components.Console.Replicas = nil
	if got := mustComponent("console").Replicas(c); got != 1 {
		t.Errorf("default console replicas = %d, want 1", got)
	}
}

// Browsers reach the console at spec.console.publicURL, else at the
// Ingress's https endpoint; with neither it runs on http://localhost:8080
// for kubectl port-forward, and the Ingress sends it nothing.
func TestTheConsoleIsReachedAtAnHTTPSAddress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *kinshipv1alpha1.Community)
		want   string
		routed bool
	}{
		{"ingress with TLS", func(*kinshipv1alpha1.Community) {}, "https://climate.example.org", true},
		{"public URL set", func(c *kinshipv1alpha1.Community) { c.Spec.Console.PublicURL = "https://console.example.org/" },
			"https://console.example.org", true},
		{"ingress without TLS", func(c *kinshipv1alpha1.Community) { c.Spec.Ingress.TLSSecretName = "" }, "http://localhost:8080", false},
		{"ingress without TLS, TLS in front", func(c *kinshipv1alpha1.Community) {
			c.Spec.Ingress.TLSSecretName = ""
			c.Spec.Console.PublicURL = "https://climate.example.org"
		}, "https://climate.example.org", true},
		{"no ingress", func(c *kinshipv1alpha1.Community) { c.Spec.Ingress = nil }, "http://localhost:8080", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := community()
			tc.change(c)
			objs := Workloads(c, inputs())
			if got := envOf(deployments(objs)["console"])["KINSHIP_CONSOLE_PUBLIC_URL"].Value; got != tc.want {
				t.Errorf("KINSHIP_CONSOLE_PUBLIC_URL = %q, want %q", got, tc.want)
			}
			root := false
			if ing := BuildIngress(c); ing != nil {
				for _, p := range ing.Spec.Rules[0].HTTP.Paths {
					if p.Path == "/" {
						root = p.Backend.Service.Name == "console" && *p.PathType == networkingv1.PathTypePrefix
					}
				}
			}
			if root != tc.routed || ConsoleRouted(c) != tc.routed {
				t.Errorf("/ routed to the console: %v, want %v", root, tc.routed)
			}
			if in := policies(objs)[ConsolePolicyName].Spec.Ingress; (len(in) > 0) != tc.routed {
				t.Errorf("the console's policy admits browsers: %+v, want %v", in, tc.routed)
			}
		})
	}
}

// The console's pods are left out of the instance's policy and reach only
// DNS, the APIs it calls (each on its port), the issuer and the
// collector — never Kafka, Temporal, the database or the mail server.
func TestTheConsoleReachesOnlyTheAPIsAndTheIssuer(t *testing.T) {
	c := community()
	nps := selecting(t, policies(Workloads(c, inputs())), c, "console")
	if len(nps) != 1 || nps[ConsolePolicyName] == nil {
		t.Fatalf("policies selecting the console: %v, want its own alone", nps)
	}
	np := nps[ConsolePolicyName]
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policy types %v", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.IntVal != 8080 {
		t.Errorf("ingress: %+v, want browsers on 8080 alone", np.Spec.Ingress)
	}
	apis := map[string]int32{}
	var other []string
	for _, rule := range np.Spec.Egress {
		for _, to := range rule.To {
			if to.PodSelector != nil && len(rule.Ports) == 1 {
				apis[to.PodSelector.MatchLabels[LabelComponent]] = rule.Ports[0].Port.IntVal
			}
		}
		if len(rule.To) == 0 || rule.To[0].PodSelector == nil {
			for _, p := range rule.Ports {
				other = append(other, string(*p.Protocol)+"/"+p.Port.String())
			}
		}
	}
	wantAPIs := map[string]int32{"members": 8081, "communications": 8082, "worker": 8083, "events": 8085, "partners": 8086, "insights": 8087}
	if len(apis) != len(wantAPIs) {
		t.Errorf("the console reaches %v, want %v", apis, wantAPIs)
	}
	for name, port := range wantAPIs {
		if apis[name] != port {
			t.Errorf("the console reaches %s on %d, want %d", name, apis[name], port)
		}
	}
	slices.Sort(other)
	// DNS, the issuer (https, public addresses only) and the collector.
	if !slices.Equal(other, []string{"TCP/4317", "TCP/443", "TCP/53", "UDP/53"}) {
		t.Errorf("the console reaches further: %v", other)
	}
	if allowed(nps, "10.0.0.12", 9093) || allowed(nps, "192.0.2.25", 587) || allowed(nps, "169.254.169.254", 443) {
		t.Error("the console reaches Kafka, the mail server or a private address")
	}
}

// A Community can turn the console off: no Deployment, Service,
// PodDisruptionBudget, policy or route of it; everything else stays.
func TestTheConsoleCanBeTurnedOff(t *testing.T) {
	c := community()
	c.Spec.Console.Enabled = ptr.To(false)
	objs := Workloads(c, inputs())
	for _, o := range objs {
		if o.GetName() == "console" || o.GetName() == ConsolePolicyName {
			t.Errorf("%T %s is built with the console off", o, o.GetName())
		}
	}
	if len(deployments(objs)) != 6 {
		t.Errorf("got %d deployments, want every other component (6)", len(deployments(objs)))
	}
	for _, p := range BuildIngress(c).Spec.Rules[0].HTTP.Paths {
		if p.Backend.Service.Name == "console" {
			t.Errorf("%s is routed to the console, which is off", p.Path)
		}
	}
	var kinds []string
	for _, o := range ComponentObjects(c, mustComponent("console"), inputs()) {
		kinds = append(kinds, kindOf(o))
	}
	if strings.Join(kinds, ",") != "Deployment,Service,PodDisruptionBudget" {
		t.Errorf("a component's objects: %v", kinds)
	}
}

func kindOf(o client.Object) string {
	switch o.(type) {
	case *appsv1.Deployment:
		return "Deployment"
	case *corev1.Service:
		return "Service"
	default:
		return o.GetObjectKind().GroupVersionKind().Kind
	}
}
