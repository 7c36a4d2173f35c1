package chart

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

// NOTES.txt, as `helm install` prints it, tells what is still missing and
// what to do next.
func TestNotesTellWhatToDoNext(t *testing.T) {
	cases := []struct {
		name        string
		args        []string
		want, avoid []string
	}{
		{"default values", nil,
			[]string{"rollout status deployment/kinship-operator", "helm test kinship", "Not set yet: platform.kafka.bootstrapServers, platform.temporal.address, platform.database.existingSecret, platform.smtp.existingSecret, platform.auth.issuer", "kind: Community", "kubectl apply --server-side -f <chart folder>/crds/"},
			[]string{"<no value>", "This release manages"}},
		{"full values", []string{"--values", fullValues(t)},
			[]string{"This release manages 2 Communities: climate-action, mind-matters", `bootstrapServers: ["kinship-kafka-bootstrap.kafka:9093"]`, `tls: {"enabled":true,"secretRef":{"name":"kinship-cluster-ca-cert"}`, "A Secret reference without a namespace resolves in kinship-system", `dkim: {"domain":"example.org","key":"private.key","secretRef":{"name":"dkim-signing"},"selector":"kinship-2026"}`, `communications: {outboundAllow: ["10.20.0.0/16","fd00:1::/64","chat-bridge.chat.svc.cluster.local"]}`, "kinship-2026._domainkey.example.org", `sasl: {"mechanism":"SCRAM-SHA-512"`, `temporal: {address: "temporal-frontend.temporal:7233", tls: {"enabled":true`, "name: postgres-admin", "endpoint: \"http://otel-collector.observability:4317\"",
				"climate-action: https://climate.example.org   (OIDC redirect URL https://climate.example.org/auth/callback)",
				"mind-matters: turned off", `console: {enabled: true, clientID: "kinship-console", clientSecret: {"key":"client-secret","secretRef":{"name":"console-oidc"}}}`,
				`insights: {"ambassadorQuotas":{"hosted_event":1,"referred_member":2}`, "kinship_community, kinship_roles"},
			[]string{"<no value>", "Not set yet"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"install", release, chartDir(t), "--dry-run=client", "--namespace", namespace, "--kubeconfig", cluster.kubeconfig}, c.args...)
			out, err := repo.Helm(repo.Root(t), args...)
			if err != nil {
				t.Fatalf("helm install --dry-run: %v", err)
			}
			_, notes, ok := strings.Cut(out, "\nNOTES:\n")
			if !ok {
				t.Fatalf("no NOTES in\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(notes, w) {
					t.Errorf("NOTES lack %q:\n%s", w, notes)
				}
			}
			for _, a := range c.avoid {
				if strings.Contains(notes, a) {
					t.Errorf("NOTES hold %q:\n%s", a, notes)
				}
			}
			if c.name == "full values" {
				checkPrintedCommunity(t, notes)
			}
		})
	}
}

// checkPrintedCommunity: the Community NOTES prints, with the platform
// settings filled in, is one the CRD accepts.
func checkPrintedCommunity(t *testing.T, notes string) {
	t.Helper()
	_, rest, ok := strings.Cut(notes, "<<'YAML'\n")
	body, _, ok2 := strings.Cut(rest, "\n     YAML\n")
	if !ok || !ok2 {
		t.Fatalf("no Community between <<'YAML' and YAML in NOTES")
	}
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "     "))
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(strings.Join(lines, "\n")), &obj); err != nil {
		t.Fatalf("the printed Community is no YAML: %v", err)
	}
	if err := dryRunApply(t, &unstructured.Unstructured{Object: obj}); err != nil {
		t.Errorf("the printed Community is refused: %v", err)
	}
}
