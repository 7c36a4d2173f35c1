package outbound

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ErrNotAllowed means a destination is internal (loopback, private,
// link-local, cluster-internal, ...) and not on the operator's allow-list.
// Its text is what a delivery log shows.
var ErrNotAllowed = errors.New("refused: destination not allowed")

// blocked are the address ranges no request made on someone's behalf may
// reach unless the operator allows them by name or range.
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network", including 0.0.0.0
		"10.0.0.0/8",      // RFC 1918
		"100.64.0.0/10",   // carrier-grade NAT (RFC 6598)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, including cloud metadata (169.254.169.254)
		"172.16.0.0/12",   // RFC 1918
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay anycast
		"192.168.0.0/16",  // RFC 1918
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, including 255.255.255.255
		"::/96",           // unspecified, loopback and IPv4-compatible addresses
		"::ffff:0:0/96",   // IPv4-mapped (checked again unmapped)
		"64:ff9b::/96",    // NAT64 (embeds an IPv4 address)
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard-only
		"2001::/32",       // Teredo (embeds an obfuscated IPv4 address)
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4 (embeds an IPv4 address)
		"fc00::/7",        // unique local, such as fd00:ec2::254
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// internalSuffixes are name endings that only mean something inside a
// cluster or a local network.
var internalSuffixes = []string{".localhost", ".local", ".internal", ".svc", ".cluster.local", ".home.arpa", ".localdomain"}

// Policy decides which destinations may be reached: anything public, and
// whatever the operator's allow-list names.
type Policy struct {
	allowNets  []netip.Prefix
	allowHosts map[string]bool
}

// NewPolicy reads an allow-list of CIDRs ("10.20.0.0/16"), single
// addresses ("10.20.0.7") and host names ("bridge.chat.svc.cluster.local").
// A host name on the list may resolve to any address; a range on the list
// lets any name resolving into it through.
func NewPolicy(allow []string) (Policy, error) {
	p := Policy{allowHosts: map[string]bool{}}
	var errs []error
	for _, raw := range allow {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		if prefix, err := netip.ParsePrefix(entry); err == nil {
			p.allowNets = append(p.allowNets, prefix.Masked())
			continue
		}
		if addr, err := netip.ParseAddr(entry); err == nil {
			p.allowNets = append(p.allowNets, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
			continue
		}
		host := normaliseHost(entry)
		if !validHostName(host) {
			errs = append(errs, fmt.Errorf("outbound allow-list entry %q is neither a CIDR, an IP address nor a host name", raw))
			continue
		}
		p.allowHosts[host] = true
	}
	return p, errors.Join(errs...)
}

// AllowsHost reports whether the operator allowed host by name.
func (p Policy) AllowsHost(host string) bool { return p.allowHosts[normaliseHost(host)] }

// CheckAddr refuses an address in a blocked range, unless the allow-list
// covers it.
func (p Policy) CheckAddr(addr netip.Addr) error {
	addr = addr.WithZone("")
	for _, a := range []netip.Addr{addr, addr.Unmap()} {
		for _, n := range p.allowNets {
			if n.Contains(a) {
				return nil
			}
		}
	}
	if blockedAddr(addr) {
		return ErrNotAllowed
	}
	return nil
}

func blockedAddr(addr netip.Addr) bool {
	if !addr.IsValid() {
		return true
	}
	if addr.Is4In6() && blockedAddr(addr.Unmap()) {
		return true
	}
	for _, n := range blocked {
		if n.Contains(addr) {
			return true
		}
	}
	// Embedded IPv4 of 6to4 (2002:AABB:CCDD::) is covered by blocking
	// 2002::/16 as a whole; NAT64 and Teredo likewise.
	return addr.IsLoopback() || addr.IsPrivate() || addr.IsUnspecified() || addr.IsMulticast() ||
		addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast()
}

// CheckHost refuses a host name that only means something inside a
// cluster or a local network (localhost, *.svc, *.cluster.local,
// kubernetes.default, a name without a dot, ...), and an IP address in a
// blocked range, unless the allow-list names it. It resolves nothing: the
// addresses a name resolves to are checked when connecting.
func (p Policy) CheckHost(host string) error {
	h := normaliseHost(host)
	if p.allowHosts[h] {
		return nil
	}
	if addr, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		if addr.Zone() != "" {
			return ErrNotAllowed
		}
		return p.CheckAddr(addr)
	}
	if looksNumeric(h) {
		// 2130706433, 0177.0.0.1, 0x7f.1, 127.1: other spellings of an
		// IPv4 address, which resolvers and browsers accept.
		return ErrNotAllowed
	}
	if !validHostName(h) {
		return errBadHostName
	}
	if internalName(h) {
		return ErrNotAllowed
	}
	return nil
}

var errBadHostName = errors.New("has an invalid host name (write international names in punycode, xn--…)")

func internalName(h string) bool {
	if h == "localhost" || !strings.Contains(h, ".") || strings.HasPrefix(h, "kubernetes.default") {
		return true
	}
	for _, s := range internalSuffixes {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// looksNumeric reports whether the last label of h is a number (decimal,
// octal or 0x-hex): the URL standard then reads the whole host as an IPv4
// address in one of its legacy spellings.
func looksNumeric(h string) bool {
	labels := strings.Split(h, ".")
	last := labels[len(labels)-1]
	if last == "" {
		return false
	}
	if lower := strings.ToLower(last); strings.HasPrefix(lower, "0x") {
		return strings.Trim(lower[2:], "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// normaliseHost lower-cases h and drops a trailing dot ("localhost." is
// localhost).
func normaliseHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// validHostName accepts DNS names of letters, digits, hyphens and
// underscores in labels of 1–63 characters.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// CheckURL is the check made when someone registers a destination (a
// webhook): an absolute https URL without credentials whose host is not
// internal, or plain http to a destination the allow-list names. It
// resolves nothing; Client checks the resolved address again at connect
// time. Errors other than ErrNotAllowed explain what is wrong with the URL.
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	if len(raw) > 2000 {
		return nil, errors.New("must be at most 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("must be an absolute https URL")
	}
	if u.User != nil {
		return nil, errors.New("must not carry a user name or password")
	}
	if strings.ContainsAny(u.Host, "%\\") {
		return nil, ErrNotAllowed
	}
	host := u.Hostname()
	if port := u.Port(); port != "" {
		if n, ok := parsePort(port); !ok || n == 0 {
			return nil, errors.New("has an invalid port")
		}
	}
	if err := p.CheckHost(host); err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.allowedExplicitly(host) {
			return nil, errors.New("must be https (plain http only to destinations the operator allows)")
		}
	default:
		return nil, errors.New("must be an https URL")
	}
	return u, nil
}

// allowedExplicitly reports whether host is named or covered by the
// allow-list (not merely public).
func (p Policy) allowedExplicitly(host string) bool {
	h := normaliseHost(host)
	if p.allowHosts[h] {
		return true
	}
	if addr, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		for _, n := range p.allowNets {
			if n.Contains(addr) || n.Contains(addr.Unmap()) {
				return true
			}
		}
	}
	return false
}

func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, n <= 65535
}
