package resources

import (
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// WebhookPort is the port webhooks are posted to (https). No pod of an
// instance reaches a private address on it, except the API server when
// it is the workload issuer, the namespaces of <service>.<namespace>.svc
// names, and the spec's allow-list.
const WebhookPort = 443

// PrivateRanges are the address ranges of the cluster and its networks
// (private, carrier-grade NAT, link-local — where cloud metadata services
// answer —, loopback and their IPv6 counterparts) that webhooks never
// reach unless spec.communications.outboundAllow names them.
func PrivateRanges() (v4, v6 []string) {
	return []string{"10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"},
		[]string{"::1/128", "fc00::/7", "fe80::/10"}
}

// publicPeers are every address outside PrivateRanges.
func publicPeers() []networkingv1.NetworkPolicyPeer {
	v4, v6 := PrivateRanges()
	return []networkingv1.NetworkPolicyPeer{
		{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: v4}},
		{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: v6}},
	}
}

// BuildNetworkPolicy builds the instance's default-deny policy, for every
// pod of the instance but the console's (BuildConsolePolicy). It admits
// traffic between the instance's own pods (and, with an Ingress, to the
// ports of the components it routes to from other namespaces, where
// ingress controllers run; and to the ports of the components the
// operator calls from the operator's namespace), and lets
// pods reach only DNS, Kafka, Temporal, the database, the mail server, the
// collector and the token issuers. Destinations given as IP addresses are
// pinned to that address; host names can only be pinned to their port, as
// a NetworkPolicy cannot name hosts — except on WebhookPort, where a host
// name is reached only at public addresses, or in its namespace when it
// is a <service>.<namespace>.svc name, so that the port webhooks use
// never opens the cluster's private ranges.
func BuildNetworkPolicy(c *kinshipv1alpha1.Community, in Inputs) *networkingv1.NetworkPolicy {
	inside := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	ingress := []networkingv1.NetworkPolicyIngressRule{{From: inside}}
	var routed, operatorCalls []networkingv1.NetworkPolicyPort
	var consoles []string
	for _, comp := range Components() {
		switch {
		case comp.SignsIn:
			consoles = append(consoles, comp.Name)
		case comp.Routed():
			routed = append(routed, tcpPort(comp.Port))
		}
		if comp.TrustsOperator {
			operatorCalls = append(operatorCalls, tcpPort(comp.Port))
		}
	}
	if c.Spec.Ingress != nil {
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
			Ports: routed,
		})
	}
	if in.OperatorNamespace != "" && len(operatorCalls) > 0 {
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{namespacePeer(in.OperatorNamespace)},
			Ports: operatorCalls,
		})
	}
	egress := append([]networkingv1.NetworkPolicyEgressRule{{To: inside}, dnsRule()}, egressRules(endpoints(c, in))...)
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(c, NetworkPolicyName, ""),
		Spec: networkingv1.NetworkPolicySpec{
			// Every pod of the instance, and any pod without a component
			// label, but the console's, whose policy is its own: a
			// policy's rules add up, so the console would otherwise reach
			// Kafka, the database and the mail server too.
			PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: LabelComponent, Operator: metav1.LabelSelectorOpNotIn, Values: consoles,
			}}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     ingress,
			Egress:      egress,
		},
	}
}

func dnsRule() networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{Ports: []networkingv1.NetworkPolicyPort{
		{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
		{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))},
	}}
}

// BuildConsolePolicy builds the console pods' NetworkPolicy, default deny
// like the instance's: browsers come in on its port through the ingress
// controllers (other namespaces) when the Ingress routes to it; it goes
// out only to DNS, the APIs it calls (each on its port), the issuer
// people sign in at (discovery, token exchange, keys) and the collector.
// It never reaches Kafka, Temporal, the database or the mail server.
func BuildConsolePolicy(c *kinshipv1alpha1.Community, in Inputs) *networkingv1.NetworkPolicy {
	comp := mustComponent("console")
	var ingress []networkingv1.NetworkPolicyIngressRule
	if ConsoleRouted(c) {
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
			Ports: []networkingv1.NetworkPolicyPort{tcpPort(comp.Port)},
		})
	}
	egress := []networkingv1.NetworkPolicyEgressRule{dnsRule()}
	for _, name := range comp.Calls {
		callee := mustComponent(name)
		egress = append(egress, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: SelectorLabels(c, callee.Name)}}},
			Ports: []networkingv1.NetworkPolicyPort{tcpPort(callee.Port)},
		})
	}
	var eps []endpoint
	for _, raw := range []string{c.Spec.Auth.Issuer, c.Spec.OpenTelemetry.Endpoint} {
		if ep, ok := urlEndpoint(raw); ok {
			eps = append(eps, ep)
		}
	}
	egress = append(egress, egressRules(eps)...)
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(c, ConsolePolicyName, comp.Name),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: SelectorLabels(c, comp.Name)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     ingress,
			Egress:      egress,
		},
	}
}

type endpoint struct {
	host string
	port int32
}

// endpoints lists every destination outside the instance its pods reach.
func endpoints(c *kinshipv1alpha1.Community, in Inputs) []endpoint {
	var out []endpoint
	add := func(hostPort string) {
		host, portText, err := net.SplitHostPort(hostPort)
		if err != nil {
			return
		}
		if port, err := strconv.ParseInt(portText, 10, 32); err == nil && port > 0 && port < 65536 {
			out = append(out, endpoint{host: host, port: int32(port)})
		}
	}
	addURL := func(raw string) {
		if ep, ok := urlEndpoint(raw); ok {
			out = append(out, ep)
		}
	}
	for _, b := range c.Spec.Kafka.BootstrapServers {
		add(b)
	}
	add(c.Spec.Temporal.Address)
	add(in.Database)
	add(in.SMTP)
	addURL(c.Spec.OpenTelemetry.Endpoint)
	addURL(c.Spec.Auth.Issuer)
	if inClusterIssuer(c) && isAddress(in.APIServer) {
		// The workload issuer is the API server, whose address the
		// operator knows: pin it.
		add(in.APIServer)
	} else {
		addURL(c.Spec.Auth.WorkloadIssuer)
	}
	return out
}

// urlEndpoint is the host and port an http(s) URL reaches.
func urlEndpoint(raw string) (endpoint, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return endpoint{}, false
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	p, err := strconv.ParseInt(port, 10, 32)
	if err != nil || p <= 0 || p >= 65536 {
		return endpoint{}, false
	}
	return endpoint{host: u.Hostname(), port: int32(p)}, true
}

// isAddress reports whether hostPort is an IP address and a port.
func isAddress(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	_, err = netip.ParseAddr(host)
	return err == nil
}

// ServiceNamespace returns the namespace of a cluster-internal name of the
// form <service>.<namespace>.svc[.<cluster domain>] (or a pod's name under
// a headless Service, <pod>.<service>.<namespace>.svc...).
func ServiceNamespace(host string) (string, bool) {
	labels := strings.Split(strings.TrimSuffix(strings.ToLower(host), "."), ".")
	for i := 2; i < len(labels); i++ {
		if labels[i] == "svc" {
			return labels[i-1], labels[i-1] != ""
		}
	}
	return "", false
}

// apiServerName reports whether host names the cluster's API server.
func apiServerName(host string) bool {
	h := strings.ToLower(host)
	return h == "kubernetes.default" || h == "kubernetes.default.svc" || strings.HasPrefix(h, "kubernetes.default.svc.")
}

func namespacePeer(ns string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{corev1.LabelMetadataName: ns},
	}}
}

// egressRules allows each endpoint: addresses get a rule of their own,
// host names share one rule listing their ports. On WebhookPort a host
// name is opened only to public addresses, or to its namespace when it is
// a <service>.<namespace>.svc name; only the API server by name (when its
// address is unknown) is opened by port there.
func egressRules(eps []endpoint) []networkingv1.NetworkPolicyEgressRule {
	anyPorts := map[int32]bool{}
	byIP := map[string]map[int32]bool{}
	byNamespace := map[string]map[int32]bool{}
	public := false
	for _, ep := range eps {
		addr, err := netip.ParseAddr(ep.host)
		if err != nil {
			ns, isService := ServiceNamespace(ep.host)
			switch {
			case ep.port != WebhookPort || apiServerName(ep.host):
				anyPorts[ep.port] = true
			case isService:
				if byNamespace[ns] == nil {
					byNamespace[ns] = map[int32]bool{}
				}
				byNamespace[ns][ep.port] = true
			default:
				public = true
			}
			continue
		}
		cidr := netip.PrefixFrom(addr, addr.BitLen()).String()
		if byIP[cidr] == nil {
			byIP[cidr] = map[int32]bool{}
		}
		byIP[cidr][ep.port] = true
	}
	var rules []networkingv1.NetworkPolicyEgressRule
	cidrs := make([]string, 0, len(byIP))
	for cidr := range byIP {
		cidrs = append(cidrs, cidr)
	}
	sort.Strings(cidrs)
	for _, cidr := range cidrs {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: cidr}}},
			Ports: tcpPorts(byIP[cidr]),
		})
	}
	namespaces := make([]string, 0, len(byNamespace))
	for ns := range byNamespace {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{namespacePeer(ns)},
			Ports: tcpPorts(byNamespace[ns]),
		})
	}
	if public {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{To: publicPeers(), Ports: []networkingv1.NetworkPolicyPort{tcpPort(WebhookPort)}})
	}
	if len(anyPorts) > 0 {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(anyPorts)})
	}
	return rules
}

// BuildWebhookPolicy builds the NetworkPolicy of the components that send
// webhooks (the communications service): on top of BuildNetworkPolicy,
// they reach every public address on WebhookPort, never the private
// ranges, and, on every port, what spec.communications.outboundAllow
// names that a NetworkPolicy can express — CIDRs, addresses and
// <service>.<namespace>.svc names (their namespace). Other host names in
// the list pass only the service's own check.
func BuildWebhookPolicy(c *kinshipv1alpha1.Community) *networkingv1.NetworkPolicy {
	var senders []string
	for _, comp := range Components() {
		if comp.Webhooks {
			senders = append(senders, comp.Name)
		}
	}
	egress := []networkingv1.NetworkPolicyEgressRule{{To: publicPeers(), Ports: []networkingv1.NetworkPolicyPort{tcpPort(WebhookPort)}}}
	if allowed := allowPeers(c.Spec.Communications.OutboundAllow); len(allowed) > 0 {
		egress = append(egress, networkingv1.NetworkPolicyEgressRule{To: allowed})
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(c, WebhookPolicyName, ""),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{
				MatchLabels:      SelectorLabels(c, ""),
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: LabelComponent, Operator: metav1.LabelSelectorOpIn, Values: senders}},
			},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      egress,
		},
	}
}

// allowPeers are the peers of an allow-list a NetworkPolicy can express,
// in the list's order, each once.
func allowPeers(allow []string) []networkingv1.NetworkPolicyPeer {
	var peers []networkingv1.NetworkPolicyPeer
	seen := map[string]bool{}
	for _, entry := range allow {
		var peer networkingv1.NetworkPolicyPeer
		key := ""
		if p, err := netip.ParsePrefix(entry); err == nil {
			key = p.Masked().String()
			peer.IPBlock = &networkingv1.IPBlock{CIDR: key}
		} else if a, err := netip.ParseAddr(entry); err == nil {
			key = netip.PrefixFrom(a, a.BitLen()).String()
			peer.IPBlock = &networkingv1.IPBlock{CIDR: key}
		} else if ns, ok := ServiceNamespace(entry); ok {
			key = "namespace/" + ns
			peer = namespacePeer(ns)
		}
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		peers = append(peers, peer)
	}
	return peers
}

func tcpPorts(set map[int32]bool) []networkingv1.NetworkPolicyPort {
	ports := make([]int32, 0, len(set))
	for p := range set {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	out := make([]networkingv1.NetworkPolicyPort, 0, len(ports))
	for _, p := range ports {
		out = append(out, tcpPort(p))
	}
	return out
}

func tcpPort(p int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(p))}
}

// BuildIngress builds the Ingress that routes each Connect service and
// each further path prefix to its component, or returns nil when c has no
// ingress.
func BuildIngress(c *kinshipv1alpha1.Community) *networkingv1.Ingress {
	ing := c.Spec.Ingress
	if ing == nil {
		return nil
	}
	var paths []networkingv1.HTTPIngressPath
	for _, comp := range EnabledComponents(c) {
		prefixes := append([]string(nil), comp.PathPrefixes...)
		for _, svc := range comp.ConnectServices {
			prefixes = append(prefixes, "/"+svc)
		}
		if comp.SignsIn && ConsoleRouted(c) {
			// Everything else: the longest matching prefix wins, so the
			// APIs' paths keep going to the APIs.
			prefixes = append(prefixes, "/")
		}
		for _, prefix := range prefixes {
			paths = append(paths, networkingv1.HTTPIngressPath{
				Path:     prefix,
				PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: comp.Name, Port: networkingv1.ServiceBackendPort{Name: portName},
				}},
			})
		}
	}
	out := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: objectMeta(c, IngressName, ""),
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host:             ing.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}},
			}},
		},
	}
	if ing.ClassName != "" {
		out.Spec.IngressClassName = ptr.To(ing.ClassName)
	}
	if ing.TLSSecretName != "" {
		out.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{ing.Host}, SecretName: ing.TLSSecretName}}
	}
	return out
}

// PublicURL is the https address members reach c's communications
// service at, for the links in mail: spec.communications.publicURL, else
// the Ingress endpoint when the Ingress serves https. ok is false when c
// has none: mail links must be https, so the service would refuse to
// start.
func PublicURL(c *kinshipv1alpha1.Community) (url string, ok bool) {
	if u := c.Spec.Communications.PublicURL; u != "" {
		return strings.TrimRight(u, "/"), true
	}
	if ing := c.Spec.Ingress; ing != nil && ing.TLSSecretName != "" {
		return Endpoint(c), true
	}
	return "", false
}

// ConsoleLocalURL is the console's address when it has no https one:
// reached with kubectl port-forward on the person's own machine, where
// the console allows plain http.
const ConsoleLocalURL = "http://localhost:8080"

// ConsolePublicURL is where browsers reach c's console:
// spec.console.publicURL, else the Ingress endpoint when the Ingress
// serves https; public is true for those. Otherwise the console is
// reached with kubectl port-forward at ConsoleLocalURL — it refuses plain
// http anywhere but on loopback, and its sign-in needs its real address.
func ConsolePublicURL(c *kinshipv1alpha1.Community) (url string, public bool) {
	if u := c.Spec.Console.PublicURL; u != "" {
		return strings.TrimRight(u, "/"), true
	}
	if ing := c.Spec.Ingress; ing != nil && ing.TLSSecretName != "" {
		return Endpoint(c), true
	}
	return ConsoleLocalURL, false
}

// ConsoleRouted reports whether c's Ingress routes / to the console: it
// runs, there is an Ingress, and the console has a public address (a
// console on ConsoleLocalURL behind a plain-http Ingress could not sign
// anyone in).
func ConsoleRouted(c *kinshipv1alpha1.Community) bool {
	_, public := ConsolePublicURL(c)
	return c.Spec.Ingress != nil && public && c.Spec.Console.IsEnabled()
}

// Endpoint is where c's APIs are reached: the Ingress URL, or the members
// service inside the cluster.
func Endpoint(c *kinshipv1alpha1.Community) string {
	if ing := c.Spec.Ingress; ing != nil {
		if ing.TLSSecretName != "" {
			return "https://" + ing.Host
		}
		return "http://" + ing.Host
	}
	return mustComponent("members").URL(c)
}
