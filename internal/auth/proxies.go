package auth

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads the addresses of the proxies in front of a
// service, each a CIDR range ("10.0.0.0/8") or one address ("192.0.2.7").
func ParseTrustedProxies(entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q is not a CIDR range or an address", e)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not a CIDR range or an address", e)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// maxForwardedHops bounds how many X-Forwarded-For entries are read.
const maxForwardedHops = 32

// clientAddress is the address a call comes from, for per-address limits.
// It is the direct peer, unless the peer is a trusted proxy: then the
// X-Forwarded-For entries are read from the right (the hop the proxy
// added last) and the first address that is not a trusted proxy is the
// client. Entries left of it are whatever the client sent and are never
// believed. An entry that is no address ends the walk at the last trusted
// hop, so garbage cannot make up a fresh address per call.
func clientAddress(peer string, forwardedFor []string, trusted []netip.Prefix) string {
	addr, ok := parseHop(peer)
	if !ok {
		return peer
	}
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	var hops []string
	for _, header := range forwardedFor {
		hops = append(hops, strings.Split(header, ",")...)
	}
	last := addr
	for n := 0; n < len(hops) && n < maxForwardedHops; n++ {
		hop, ok := parseHop(hops[len(hops)-1-n])
		if !ok {
			return last.String()
		}
		if !isTrusted(hop, trusted) {
			return hop.String()
		}
		last = hop
	}
	return last.String()
}

// parseHop reads one address as peers and X-Forwarded-For write them:
// "192.0.2.1", "192.0.2.1:443", "2001:db8::1" or "[2001:db8::1]:443".
func parseHop(raw string) (netip.Addr, bool) {
	raw = strings.TrimSpace(raw)
	if host, _, err := net.SplitHostPort(raw); err == nil {
		raw = host
	}
	raw = strings.TrimSuffix(strings.TrimPrefix(raw, "["), "]")
	a, err := netip.ParseAddr(raw)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
