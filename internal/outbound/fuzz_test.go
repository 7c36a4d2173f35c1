package outbound_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/internal/outbound"
)

// FuzzCheckURL feeds arbitrary URLs to the registration check: it never
// panics, and whatever it accepts is an absolute http(s) URL without
// credentials whose host is no internal address.
func FuzzCheckURL(f *testing.F) {
	for _, seed := range []string{
		"https://hooks.slack.com/services/T000/B000/XXXX",
		"https://169.254.169.254/", "https://[fd00:ec2::254]/", "https://2130706433/", "https://0x7f.1/",
		"https://[::ffff:7f00:1]/", "https://localhost./", "https://kubernetes.default.svc.cluster.local/",
		"http://127.0.0.1:8080/x", "https://user@example.org/", "https://[fe80::1%25en0]/", "//example.org",
		"https://example.org:0/", "https://exa mple.org/", "https://%31%32%37.0.0.1/", "https://ex\\ample.org/",
		"", ":", "https://", "https://[", "https://a..b/",
	} {
		f.Add(seed)
	}
	p, err := outbound.NewPolicy([]string{"127.0.0.1/32"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := p.CheckURL(raw)
		if err != nil {
			if u != nil {
				t.Fatalf("CheckURL(%q) returned a URL with error %v", raw, err)
			}
			return
		}
		if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.User != nil {
			t.Fatalf("CheckURL accepted %q (%+v)", raw, u)
		}
		if a, perr := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); perr == nil {
			if cerr := p.CheckAddr(a); cerr != nil {
				t.Fatalf("CheckURL accepted %q whose address %s is %v", raw, a, cerr)
			}
			if !netip.MustParsePrefix("127.0.0.1/32").Contains(a.Unmap()) && (a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified()) {
				t.Fatalf("CheckURL accepted internal %q", raw)
			}
		}
		if h := strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")); h == "localhost" || strings.HasSuffix(h, ".svc.cluster.local") {
			t.Fatalf("CheckURL accepted cluster-internal %q", raw)
		}
		if errors.Is(err, outbound.ErrNotAllowed) {
			t.Fatal("unreachable")
		}
	})
}
