package resources

import (
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	kinshipv1alpha1 "github.com/kinshiphq/kinship/operator/api/v1alpha1"
)

// BuildNetworkPolicy builds the instance's default-deny policy. It admits
// traffic between the instance's own pods (and, with an Ingress, to the
// ports of the components it routes to from other namespaces, where
// ingress controllers run), and lets
// pods reach only DNS, Kafka, Temporal, the database, the mail server, the
// collector and the token issuers. Destinations given as IP addresses are
// pinned to that address; host names can only be pinned to their port, as
// a NetworkPolicy cannot name hosts.
func BuildNetworkPolicy(c *kinshipv1alpha1.Community, in Inputs) *networkingv1.NetworkPolicy {
	inside := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	ingress := []networkingv1.NetworkPolicyIngressRule{{From: inside}}
	if c.Spec.Ingress != nil {
		var ports []networkingv1.NetworkPolicyPort
		for _, comp := range Components() {
			if comp.Routed() {
				ports = append(ports, tcpPort(comp.Port))
			}
		}
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
			Ports: ports,
		})
	}
	egress := []networkingv1.NetworkPolicyEgressRule{
		{To: inside},
		{Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
			{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))},
		}},
	}
	egress = append(egress, egressRules(endpoints(c, in))...)
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(c, NetworkPolicyName, ""),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
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
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			return
		}
		port := u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		add(net.JoinHostPort(u.Hostname(), port))
	}
	for _, b := range c.Spec.Kafka.BootstrapServers {
		add(b)
	}
	add(c.Spec.Temporal.Address)
	add(in.Database)
	add(in.SMTP)
	addURL(c.Spec.OpenTelemetry.Endpoint)
	addURL(c.Spec.Auth.Issuer)
	addURL(c.Spec.Auth.WorkloadIssuer)
	return out
}

// egressRules allows each endpoint: addresses get a rule of their own,
// host names share one rule listing their ports.
func egressRules(eps []endpoint) []networkingv1.NetworkPolicyEgressRule {
	anyPorts := map[int32]bool{}
	byIP := map[string]map[int32]bool{}
	for _, ep := range eps {
		addr, err := netip.ParseAddr(ep.host)
		if err != nil {
			anyPorts[ep.port] = true
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
	if len(anyPorts) > 0 {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(anyPorts)})
	}
	return rules
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
	for _, comp := range Components() {
		prefixes := append([]string(nil), comp.PathPrefixes...)
		for _, svc := range comp.ConnectServices {
			prefixes = append(prefixes, "/"+svc)
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
