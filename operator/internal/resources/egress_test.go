package resources

import (
	"net/netip"
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// policies are the NetworkPolicies among objs.
func policies(objs []client.Object) map[string]*networkingv1.NetworkPolicy {
	out := map[string]*networkingv1.NetworkPolicy{}
	for _, o := range objs {
		if np, ok := o.(*networkingv1.NetworkPolicy); ok {
			out[np.Name] = np
		}
	}
	return out
}

// selecting are the policies among nps that select component's pods of c:
// the ones whose rules add up for them.
func selecting(t *testing.T, nps map[string]*networkingv1.NetworkPolicy, c *kinshipv1alpha1.Community, component string) map[string]*networkingv1.NetworkPolicy {
	t.Helper()
	out := map[string]*networkingv1.NetworkPolicy{}
	for name, np := range nps {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Fatalf("policy %s: %v", name, err)
		}
		if sel.Matches(labels.Set(Labels(c, component))) {
			out[name] = np
		}
	}
	return out
}

// opensPort reports whether rule lets traffic out on TCP port p.
func opensPort(rule networkingv1.NetworkPolicyEgressRule, p int32) bool {
	if len(rule.Ports) == 0 {
		return true
	}
	for _, port := range rule.Ports {
		if port.Port == nil || port.Port.IntVal == p {
			return true
		}
	}
	return false
}

// reaches reports whether rule lets traffic out to addr: a rule with no
// peers reaches everything; namespace and pod selectors reach no address
// outside the cluster's pods and are not counted.
func reaches(rule networkingv1.NetworkPolicyEgressRule, addr netip.Addr) bool {
	if len(rule.To) == 0 {
		return true
	}
	for _, peer := range rule.To {
		b := peer.IPBlock
		if b == nil {
			continue
		}
		if !netip.MustParsePrefix(b.CIDR).Contains(addr) {
			continue
		}
		excluded := false
		for _, ex := range b.Except {
			if netip.MustParsePrefix(ex).Contains(addr) {
				excluded = true
			}
		}
		if !excluded {
			return true
		}
	}
	return false
}

// allowed reports whether any of the policies that select the
// communications pods lets them reach addr on port.
func allowed(nps map[string]*networkingv1.NetworkPolicy, addr string, port int32) bool {
	a := netip.MustParseAddr(addr)
	for _, np := range nps {
		for _, rule := range np.Spec.Egress {
			if opensPort(rule, port) && reaches(rule, a) {
				return true
			}
		}
	}
	return false
}

// The port webhooks go out on never reaches the cluster's private ranges:
// not the cloud's metadata service, not the API server's neighbours, not
// another namespace's pods — whatever the organiser types, and whichever
// of the instance's NetworkPolicies (they add up) allows it. Public
// addresses are reached, and so is what the spec's allow-list names.
func TestWebhookEgressExcludesThePrivateRanges(t *testing.T) {
	c := community()
	c.Spec.Communications.OutboundAllow = nil
	nps := selecting(t, policies(Workloads(c, inputs())), c, "communications")
	if len(nps) != 2 || nps[NetworkPolicyName] == nil || nps[WebhookPolicyName] == nil {
		t.Fatalf("got NetworkPolicies %v, want the instance's and the webhooks'", nps)
	}
	for _, addr := range []string{
		"169.254.169.254", "10.0.0.1", "10.96.0.10", "172.16.0.5", "192.168.1.1", "100.64.0.1", "127.0.0.1",
		"fd00:ec2::254", "fe80::1", "::1",
	} {
		if allowed(nps, addr, WebhookPort) {
			t.Errorf("the communications pods reach %s on %d", addr, WebhookPort)
		}
	}
	for _, addr := range []string{"203.0.113.10", "8.8.8.8", "2001:db8::1"} {
		if !allowed(nps, addr, WebhookPort) {
			t.Errorf("webhooks cannot reach the public address %s", addr)
		}
	}
	// The API server, which is the workload issuer, stays reachable at its
	// own address.
	if !allowed(nps, "10.96.0.1", 443) {
		t.Error("the in-cluster workload issuer (the API server) is not reachable")
	}

	// The webhook policy selects only the components that send webhooks.
	wh := nps[WebhookPolicyName]
	sel := wh.Spec.PodSelector
	if len(sel.MatchExpressions) != 1 || !slices.Equal(sel.MatchExpressions[0].Values, []string{"communications"}) ||
		sel.MatchLabels[LabelInstance] != c.Name || !slices.Equal(wh.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}) {
		t.Errorf("the webhook policy selects %+v (%v)", sel, wh.Spec.PolicyTypes)
	}
	v4, v6 := PrivateRanges()
	want := append(append([]string(nil), v4...), v6...)
	var got []string
	for _, peer := range wh.Spec.Egress[0].To {
		got = append(got, peer.IPBlock.Except...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the webhook rule excepts %v, want %v", got, want)
	}
}

// An issuer inside the cluster named <service>.<namespace>.svc on 443 is
// opened to its namespace, not to the private ranges.
func TestAnInClusterIssuerOn443IsOpenedToItsNamespace(t *testing.T) {
	c := minimal()
	c.Spec.Auth.Issuer = "https://keycloak.identity.svc.cluster.local/realms/kinship"
	np := BuildNetworkPolicy(c, inputs())
	found := false
	for _, rule := range np.Spec.Egress {
		if !opensPort(rule, 443) {
			continue
		}
		for _, peer := range rule.To {
			if peer.NamespaceSelector != nil && peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "identity" {
				found = true
			}
		}
		if reaches(rule, netip.MustParseAddr("10.1.2.3")) {
			t.Errorf("443 is open to a private address: %+v", rule)
		}
	}
	if !found {
		t.Errorf("the issuer's namespace is not reachable on 443: %+v", np.Spec.Egress)
	}
	if ns, ok := ServiceNamespace("kafka-0.kinship-kafka-brokers.kafka.svc"); !ok || ns != "kafka" {
		t.Errorf("a headless Service's pod name: namespace %q %v", ns, ok)
	}
	if _, ok := ServiceNamespace("id.example.org"); ok {
		t.Error("a public name is no cluster Service")
	}
}

// spec.communications.outboundAllow opens what a NetworkPolicy can
// express on every port, for the communications pods alone, and reaches
// the service as KINSHIP_OUTBOUND_ALLOW, comma-separated in the spec's
// order; without it there is no such variable.
func TestTheOutboundAllowListReachesThePolicyAndTheService(t *testing.T) {
	c := community() // 10.20.0.0/16, fd00:1::7, chat-bridge.chat.svc.cluster.local, hooks.partner.example
	nps := selecting(t, policies(Workloads(c, inputs())), c, "communications")
	for _, tc := range []struct {
		addr string
		port int32
		want bool
	}{
		{"10.20.3.4", 8443, true},
		{"fd00:1::7", 443, true},
		{"10.21.0.1", 443, false},
		{"169.254.169.254", 80, false},
	} {
		if got := allowed(nps, tc.addr, tc.port); got != tc.want {
			t.Errorf("%s:%d reachable = %v, want %v", tc.addr, tc.port, got, tc.want)
		}
	}
	rules := nps[WebhookPolicyName].Spec.Egress
	if len(rules) != 2 || len(rules[1].Ports) != 0 || len(rules[1].To) != 3 || rules[1].To[2].NamespaceSelector == nil ||
		rules[1].To[2].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "chat" {
		t.Errorf("allow-list rule: %+v", rules)
	}
	if rules[1].To[0].IPBlock.CIDR != "10.20.0.0/16" || rules[1].To[1].IPBlock.CIDR != "fd00:1::7/128" {
		t.Errorf("allow-list peers: %+v", rules[1].To)
	}

	deps := deployments(Workloads(c, inputs()))
	if got := envOf(deps["communications"])["KINSHIP_OUTBOUND_ALLOW"].Value; got != "10.20.0.0/16,fd00:1::7,chat-bridge.chat.svc.cluster.local,hooks.partner.example" {
		t.Errorf("KINSHIP_OUTBOUND_ALLOW = %q", got)
	}
	for name, d := range deps {
		if _, ok := envOf(d)["KINSHIP_OUTBOUND_ALLOW"]; ok && name != "communications" {
			t.Errorf("%s gets the webhook allow-list", name)
		}
	}
	if _, ok := minimalEnv(t, "communications")["KINSHIP_OUTBOUND_ALLOW"]; ok {
		t.Error("without an allow-list there is no KINSHIP_OUTBOUND_ALLOW")
	}
	if rules := BuildWebhookPolicy(minimal()).Spec.Egress; len(rules) != 1 {
		t.Errorf("without an allow-list only public addresses are reached: %+v", rules)
	}
}

// The DKIM key reaches the communications service as a file from the
// instance's copy, with its selector and domain; no other component sees
// it, and without spec.smtp.dkim there is nothing.
func TestDKIMReachesTheCommunicationsService(t *testing.T) {
	c := community()
	deps := deployments(Workloads(c, inputs()))
	comm := deps["communications"]
	env := envOf(comm)
	want := map[string]string{
		"SMTP_DKIM_KEY_FILE": "/var/run/secrets/kinship/dkim/private.key",
		"SMTP_DKIM_SELECTOR": "kinship-2026",
		"SMTP_DKIM_DOMAIN":   "climate.example.org",
	}
	for k, v := range want {
		if env[k].Value != v {
			t.Errorf("%s = %q, want %q", k, env[k].Value, v)
		}
	}
	v := volume(comm, "dkim")
	if v == nil || v.Secret == nil || v.Secret.SecretName != "climate-action-dkim" || len(v.Secret.Items) != 1 ||
		v.Secret.Items[0].Key != DKIMKeyKey || !mountsReadOnly(comm, "/var/run/secrets/kinship/dkim") {
		t.Errorf("the DKIM key must be mounted read-only from the copy: %+v", v)
	}
	if s := BuildDKIMSecret(c, []byte("k")); s.Namespace != "kinship-climate-action" || string(s.Data[DKIMKeyKey]) != "k" {
		t.Errorf("DKIM copy: %+v", s)
	}
	for name, d := range deps {
		if name == "communications" {
			continue
		}
		if volume(d, "dkim") != nil {
			t.Errorf("%s mounts the DKIM key", name)
		}
		for k := range envOf(d) {
			if k == "SMTP_DKIM_KEY_FILE" || k == "SMTP_DKIM_SELECTOR" || k == "SMTP_DKIM_DOMAIN" {
				t.Errorf("%s gets %s", name, k)
			}
		}
	}
	for k := range minimalEnv(t, "communications") {
		if k == "SMTP_DKIM_KEY_FILE" || k == "SMTP_DKIM_SELECTOR" || k == "SMTP_DKIM_DOMAIN" {
			t.Errorf("without spec.smtp.dkim, %s is set", k)
		}
	}
}

// The links in mail are https: the communications service gets
// spec.communications.publicURL, else the Ingress endpoint when it serves
// https; with neither, PublicURL says so (the controller reports it) and
// the service gets its in-cluster address.
func TestTheCommunicationsServiceGetsAnHTTPSAddress(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *kinshipv1alpha1.Community)
		want   string
		https  bool
	}{
		{"ingress with TLS", func(*kinshipv1alpha1.Community) {}, "https://climate.example.org", true},
		{"public URL set", func(c *kinshipv1alpha1.Community) { c.Spec.Communications.PublicURL = "https://links.example.org/c/" },
			"https://links.example.org/c", true},
		{"ingress without TLS", func(c *kinshipv1alpha1.Community) { c.Spec.Ingress.TLSSecretName = "" },
			"http://communications.kinship-climate-action.svc:8082", false},
		{"no ingress", func(c *kinshipv1alpha1.Community) { c.Spec.Ingress = nil },
			"http://communications.kinship-climate-action.svc:8082", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := community()
			tc.change(c)
			if _, ok := PublicURL(c); ok != tc.https {
				t.Errorf("PublicURL ok = %v, want %v", ok, tc.https)
			}
			if got := envOf(deployments(Workloads(c, inputs()))["communications"])["KINSHIP_PUBLIC_URL"].Value; got != tc.want {
				t.Errorf("KINSHIP_PUBLIC_URL = %q, want %q", got, tc.want)
			}
		})
	}
}
