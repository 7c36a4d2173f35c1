package chart

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kinshiphq/kinship/operator/internal/resources"
	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

const (
	release   = "kinship"
	namespace = "kinship-system"
)

// chartDir is charts/kinship.
func chartDir(t testing.TB) string { return filepath.Join(repo.Root(t), "charts", "kinship") }

// fullValues is the example that sets every value.
func fullValues(t testing.TB) string { return filepath.Join(chartDir(t), "ci", "full-values.yaml") }

// helmTemplate renders the chart as `helm template` does for release
// kinship in kinship-system; args add values (-f, --set).
func helmTemplate(t testing.TB, args ...string) (string, error) {
	t.Helper()
	base := []string{"template", release, chartDir(t), "--namespace", namespace, "--kube-version", repo.KubeVersion}
	return repo.Helm(repo.Root(t), append(base, args...)...)
}

// render is helmTemplate that must succeed, split into objects.
func render(t testing.TB, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	objs, err := splitManifests(out)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	return objs
}

// splitManifests parses a multi-document YAML stream into objects,
// skipping empty documents.
func splitManifests(s string) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(s)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find returns the rendered objects of one kind.
func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// A Community's kafka and temporal specs carry the platform's TLS and SASL
// settings and Temporal Web UI address, with the Secrets in the release namespace (a reference without
// a namespace: the operator's); a community's own tls or sasl replaces the
// platform's whole, so it can turn TLS off.
func TestCommunitiesCarryKafkaAndTemporalSecurity(t *testing.T) {
	communities := find(render(t, "--values", fullValues(t)), "Community")
	if len(communities) != 2 {
		t.Fatalf("%d Communities rendered, want 2", len(communities))
	}
	want := map[string]map[string]string{
		"climate-action": {
			"kafka.tls.enabled": "true", "kafka.tls.secretRef.namespace": "<none>", "kafka.tls.secretRef.name": "kinship-cluster-ca-cert",
			"kafka.tls.serverName": "kinship-kafka-bootstrap.kafka.svc", "kafka.sasl.mechanism": "SCRAM-SHA-512", "kafka.sasl.username": "kinship",
			"kafka.sasl.passwordSecretRef.namespace": "<none>", "kafka.sasl.passwordSecretRef.name": "kinship-kafka-user",
			"kafka.sasl.passwordSecretRef.key": "password", "temporal.tls.enabled": "true",
			"temporal.tls.secretRef.name": "temporal-client-tls", "temporal.tls.serverName": "temporal-frontend.temporal.svc",
			"temporal.webUIURL": "https://temporal.example.org",
		},
		"mind-matters": {
			"kafka.tls": "<none>", "kafka.sasl.mechanism": "PLAIN", "kafka.sasl.username": "mind-matters",
			"kafka.sasl.passwordSecretRef.name": "kafka-b-user", "kafka.sasl.passwordSecretRef.key": "pw",
			"temporal.tls.enabled": "true", "temporal.tls.secretRef": "<none>", "temporal.tls.serverName": "<none>",
			// Its own Temporal: the platform's Web UI address is not its.
			"temporal.webUIURL": "<none>",
		},
	}
	for _, c := range communities {
		for path, w := range want[c.GetName()] {
			fields := append([]string{"spec"}, strings.Split(path, ".")...)
			got, found, err := unstructured.NestedFieldNoCopy(c.Object, fields...)
			s := fmt.Sprint(got)
			if !found || err != nil {
				s = "<none>"
			}
			if s != w {
				t.Errorf("%s: spec.%s = %s, want %s", c.GetName(), path, s, w)
			}
		}
	}
}

// DKIM and the webhook allow-list come from the platform settings unless a
// community sets its own, which replaces them whole (an empty allow-list
// included); every Secret reference names no namespace, so it resolves in
// the operator's, the release namespace.
func TestCommunitiesCarryDKIMAndTheWebhookAllowList(t *testing.T) {
	communities := find(render(t, "--values", fullValues(t)), "Community")
	want := map[string]map[string]string{
		"climate-action": {
			"smtp.dkim.secretRef.name": "dkim-signing", "smtp.dkim.key": "private.key", "smtp.dkim.selector": "kinship-2026",
			"smtp.dkim.domain": "example.org", "communications.outboundAllow": "[10.20.0.0/16 fd00:1::/64 chat-bridge.chat.svc.cluster.local]",
		},
		"mind-matters": {
			"smtp.dkim.secretRef.name": "mind-matters-dkim", "smtp.dkim.key": "dkim.pem", "smtp.dkim.selector": "mm1",
			"smtp.dkim.domain": "mindmatters.example", "communications.outboundAllow": "<none>",
			"communications.publicURL": "https://mindmatters.example/kinship",
		},
	}
	for _, c := range communities {
		for path, w := range want[c.GetName()] {
			fields := append([]string{"spec"}, strings.Split(path, ".")...)
			got, found, err := unstructured.NestedFieldNoCopy(c.Object, fields...)
			s := fmt.Sprint(got)
			if !found || err != nil {
				s = "<none>"
			}
			if s != w {
				t.Errorf("%s: spec.%s = %s, want %s", c.GetName(), path, s, w)
			}
		}
		for _, ref := range [][]string{
			{"database", "adminSecretRef"}, {"smtp", "secretRef"}, {"smtp", "dkim", "secretRef"},
			{"kafka", "tls", "secretRef"}, {"kafka", "sasl", "passwordSecretRef"}, {"temporal", "tls", "secretRef"},
		} {
			if ns, found, _ := unstructured.NestedString(c.Object, append(append([]string{"spec"}, ref...), "namespace")...); found {
				t.Errorf("%s: spec.%s names namespace %q; the chart's Secrets are the operator's, named without one", c.GetName(), strings.Join(ref, "."), ns)
			}
		}
	}
}

// The insights settings and the console's come from the platform unless a
// community sets its own, key by key: a community's enabled: false or
// empty quotas win over the platform's. The console's client secret is a
// Secret of the release namespace, named without a namespace.
func TestCommunitiesCarryInsightsAndConsoleSettings(t *testing.T) {
	communities := find(render(t, "--values", fullValues(t)), "Community")
	want := map[string]map[string]string{
		"climate-action": {
			"insights.timeZone": "Europe/Berlin", "insights.reportSchedule": "mon 08:00",
			"insights.ambassadorQuotas": "map[hosted_event:1 referred_member:2]",
			"console.enabled":           "true", "console.clientID": "kinship-console",
			"console.clientSecret.secretRef.name": "console-oidc", "console.clientSecret.secretRef.namespace": "<none>",
			"console.clientSecret.key":     "client-secret",
			"components.insights.replicas": "2", "components.console.replicas": "1",
			"goals": "[map[deadline:2027-06-30 metric:members.active name:active-members target:500] " +
				"map[metric:events.attendance_rate name:event-attendance target:0.6] " +
				"map[baselineDate:2026-01-05 description:Core ambassadors in Germany. metric:members.active name:berlin-core " +
				"segment:map[countryCodes:[DE] levels:[Core] roles:[ambassador]] target:50] " +
				"map[breakdownValue:EUR metric:partners.contributions_money name:money target:10000]]",
		},
		"mind-matters": {
			"insights.timeZone": "America/New_York", "insights.reportSchedule": "mon 08:00", "insights.ambassadorQuotas": "<none>",
			"console.enabled": "false",
		},
	}
	for _, c := range communities {
		for path, w := range want[c.GetName()] {
			fields := append([]string{"spec"}, strings.Split(path, ".")...)
			got, found, err := unstructured.NestedFieldNoCopy(c.Object, fields...)
			s := fmt.Sprint(got)
			if !found || err != nil {
				s = "<none>"
			}
			if s != w {
				t.Errorf("%s: spec.%s = %s, want %s", c.GetName(), path, s, w)
			}
		}
	}
	// With the defaults a community gets the console on, as a public
	// client, and no insights settings.
	plain := find(render(t, "--values", writeValues(t, platformSet+`
communities:
  - {name: climate, displayName: Climate, purpose: Act.}`)), "Community")
	if len(plain) != 1 {
		t.Fatalf("%d Communities", len(plain))
	}
	console, _, _ := unstructured.NestedMap(plain[0].Object, "spec", "console")
	if fmt.Sprint(console) != "map[clientID:kinship-console enabled:true]" {
		t.Errorf("default console: %v", console)
	}
	if _, found, _ := unstructured.NestedMap(plain[0].Object, "spec", "insights"); found {
		t.Error("default values give the insights service settings")
	}
}

// The operator reaches every instance component it calls — those that
// trust its token: the insights service (it syncs the goals there) and
// the worker (it publishes the journey definitions there) — each on its
// port alone, and runs with the goals' resync period of the values.
func TestTheOperatorReachesTheComponentsItCalls(t *testing.T) {
	objs := render(t, "--values", fullValues(t))
	np := find(objs, "NetworkPolicy")
	if len(np) != 1 {
		t.Fatalf("%d NetworkPolicies", len(np))
	}
	egress, _, _ := unstructured.NestedSlice(np[0].Object, "spec", "egress")
	var called []resources.Component
	for _, comp := range resources.Components() {
		if comp.TrustsOperator {
			called = append(called, comp)
		}
	}
	if len(called) < 2 {
		t.Fatalf("the operator calls %d components, want the insights service and the worker", len(called))
	}
	for _, comp := range called {
		t.Run(comp.Name, func(t *testing.T) {
			found := false
			for _, r := range egress {
				rule := r.(map[string]any)
				if fmt.Sprint(rule["ports"]) == fmt.Sprintf("[map[port:%d protocol:TCP]]", comp.Port) &&
					fmt.Sprint(rule["to"]) == "[map[namespaceSelector:map[matchLabels:map[app.kubernetes.io/managed-by:kinship-operator]] podSelector:map[matchLabels:map[app.kubernetes.io/component:"+comp.Name+"]]]]" {
					found = true
				}
			}
			if !found {
				t.Errorf("the operator's NetworkPolicy does not let it reach the %s components on %d: %v", comp.Name, comp.Port, egress)
			}
		})
	}
	d := find(objs, "Deployment")[0]
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	args := fmt.Sprint(containers[0].(map[string]any)["args"])
	if !strings.Contains(args, "-goals-resync-period=10m") {
		t.Errorf("operator args %s lack the goals' resync period", args)
	}
}

// writeValues writes values to a file of the test's and returns its path.
func writeValues(t *testing.T, values string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(file, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// A community of the values carries its journeys to spec.journeys as
// written; the values schema refuses a kind of definition that is none
// and a definition that is no object.
func TestCommunitiesCarryTheirJourneys(t *testing.T) {
	communities := find(render(t, "--values", writeValues(t, platformSet+`
communities:
  - name: climate
    displayName: Climate
    purpose: Act.
    journeys:
      onboarding:
        steps:
          - {id: welcome, kind: send, template: welcome, next: onboarded}
          - {id: onboarded, kind: end, outcome: onboarded}
      ambassador: {reviewers: [m-1], approvals: 1}`)), "Community")
	if len(communities) != 1 {
		t.Fatalf("%d Communities", len(communities))
	}
	journeys, _, _ := unstructured.NestedMap(communities[0].Object, "spec", "journeys")
	want := "map[ambassador:map[approvals:1 reviewers:[m-1]] onboarding:map[steps:[" +
		"map[id:welcome kind:send next:onboarded template:welcome] map[id:onboarded kind:end outcome:onboarded]]]]"
	if got := fmt.Sprint(journeys); got != want {
		t.Errorf("spec.journeys = %s, want %s", got, want)
	}
	plain := find(render(t, "--values", writeValues(t, platformSet+`
communities:
  - {name: climate, displayName: Climate, purpose: Act.}`)), "Community")
	if _, found, _ := unstructured.NestedMap(plain[0].Object, "spec", "journeys"); found {
		t.Error("a community without journeys gets spec.journeys")
	}
	for _, tc := range []struct{ name, journeys string }{
		{"unknown kind", `{welcome: {steps: []}}`},
		{"onboarding that is a list", `{onboarding: [{id: welcome}]}`},
		{"empty onboarding", `{onboarding: {}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(t, "--values", writeValues(t, platformSet+`
communities:
  - {name: climate, displayName: Climate, purpose: Act., journeys: `+tc.journeys+`}`))
			if err == nil || !strings.Contains(err.Error(), "journeys") {
				t.Errorf("helm template accepted journeys %s: %v", tc.journeys, err)
			}
		})
	}
}
