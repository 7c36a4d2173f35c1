package outbound_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/outbound"
)

// Every spelling of an internal destination an attacker tried (issue 14)
// and their relatives is refused when the destination is registered.
func TestCheckURLRefusesInternalDestinations(t *testing.T) {
	p, err := outbound.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{
		"https://169.254.169.254/latest/meta-data/",
		"https://[fd00:ec2::254]/",
		"https://10.0.0.1/",
		"https://172.16.5.4/",
		"https://192.168.1.1/",
		"https://100.64.0.1/",
		"https://127.0.0.1/",
		"https://127.0.0.53:8443/",
		"https://0.0.0.0/",
		"https://[::]/",
		"https://[::1]/",
		"https://[::ffff:127.0.0.1]/",
		"https://[::ffff:169.254.169.254]/",
		"https://[::ffff:10.0.0.1]/",
		"https://[::127.0.0.1]/",
		"https://[64:ff9b::a9fe:a9fe]/",
		"https://[2002:a9fe:a9fe::1]/",
		"https://[fe80::1]/",
		"https://[fe80::1%25eth0]/",
		"https://[ff02::1]/",
		"https://224.0.0.1/",
		"https://255.255.255.255/",
		"https://2130706433/",
		"https://0177.0.0.1/",
		"https://0x7f000001/",
		"https://0x7f.0.0.1/",
		"https://127.1/",
		"https://017700000001/",
		"https://localhost/",
		"https://LOCALHOST./",
		"https://api.localhost/",
		"https://kubernetes.default/",
		"https://kubernetes.default.svc/",
		"https://kubernetes.default.svc.cluster.local/",
		"https://chat.bridge.svc.cluster.local/hook",
		"https://chat.bridge.svc/hook",
		"https://redis/",
		"https://metadata.google.internal/computeMetadata/v1/",
		"https://printer.local/",
	} {
		t.Run(raw, func(t *testing.T) {
			if _, err := p.CheckURL(raw); !errors.Is(err, outbound.ErrNotAllowed) {
				t.Errorf("CheckURL(%s) = %v, want %v", raw, err, outbound.ErrNotAllowed)
			}
		})
	}
}

func TestCheckURLAcceptsPublicHTTPSAndExplainsBadURLs(t *testing.T) {
	p, err := outbound.NewPolicy([]string{"10.20.0.0/16", "bridge.chat.svc.cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{
		"https://hooks.slack.com/services/T000/B000/XXXX",
		"https://discord.com/api/webhooks/1/abc",
		"https://93.184.215.14:8443/hook",
		"https://[2606:4700::1111]/",
		"https://10.20.3.4/hook",                       // allowed range
		"http://10.20.3.4/hook",                        // plain http to an allowed range
		"http://bridge.chat.svc.cluster.local:8080/in", // allowed name
	} {
		if _, err := p.CheckURL(raw); err != nil {
			t.Errorf("CheckURL(%s) = %v, want accepted", raw, err)
		}
	}
	for raw, want := range map[string]string{
		"http://hooks.example.org/x":           "must be https",
		"ftp://hooks.example.org/x":            "https",
		"https://user:pw@hooks.example.org":    "user name or password",
		"hooks.example.org/x":                  "absolute https URL",
		"https://hooks.example.org:99999/":     "port",
		"https://" + strings.Repeat("a", 2001): "2000 characters",
		"https://bücher.example/hook":          "punycode",
	} {
		_, err := p.CheckURL(raw)
		if err == nil || !strings.Contains(err.Error(), want) || errors.Is(err, outbound.ErrNotAllowed) {
			t.Errorf("CheckURL(%s) = %v, want an explanation mentioning %q", raw, err, want)
		}
	}
	if _, err := outbound.NewPolicy([]string{"not a host!"}); err == nil {
		t.Error("an unreadable allow-list entry was accepted")
	}
}

// resolver answers from a fixed table, as a DNS server an attacker
// controls would.
type resolver map[string][]netip.Addr

func (r resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// target is a local server that counts what reaches it.
type target struct {
	*httptest.Server
	hits atomic.Int32
}

func newTarget(t *testing.T, h http.HandlerFunc) *target {
	t.Helper()
	tg := &target{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.hits.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) port() string { return tg.URL[strings.LastIndexByte(tg.URL, ':')+1:] }

func post(t *testing.T, c *outbound.Client, raw string) (*outbound.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, raw, strings.NewReader(`{"text":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

// The connect-time check stops names that resolve inside (DNS rebinding
// included: the name passed registration), redirects and proxies.
func TestClientChecksTheAddressItConnectsTo(t *testing.T) {
	internal := newTarget(t, nil)
	loopback := netip.MustParseAddr("127.0.0.1")
	dns := resolver{
		"rebind.example.org":  {loopback},
		"mixed.example.org":   {netip.MustParseAddr("93.184.215.14"), loopback},
		"mapped.example.org":  {netip.MustParseAddr("::ffff:127.0.0.1")},
		"public.example.org":  {loopback}, // allowed by name below, stands in for a public host
		"allowed.example.org": {loopback},
	}
	c, err := outbound.New(outbound.Config{Resolver: dns, Allow: []string{"public.example.org", "allowed.example.org"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{
		"a name resolving to loopback":           "https://rebind.example.org:" + internal.port() + "/",
		"a name with one internal address":       "https://mixed.example.org:" + internal.port() + "/",
		"a name resolving to an IPv4-mapped one": "https://mapped.example.org:" + internal.port() + "/",
		"a loopback literal":                     "https://127.0.0.1:" + internal.port() + "/",
		"plain http to loopback":                 internal.URL + "/",
		"a decimal spelling":                     "https://2130706433:" + internal.port() + "/",
		"the metadata service":                   "http://169.254.169.254/latest/meta-data/",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := post(t, c, raw)
			if !errors.Is(err, outbound.ErrNotAllowed) || err.Error() != "refused: destination not allowed" {
				t.Errorf("Do(%s) = %v, want refused: destination not allowed", raw, err)
			}
		})
	}
	if n := internal.hits.Load(); n != 0 {
		t.Fatalf("the internal server received %d requests", n)
	}

	t.Run("a public URL redirecting inside is not followed", func(t *testing.T) {
		redirector := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, internal.URL+"/latest/meta-data/", http.StatusTemporaryRedirect)
		})
		res, err := post(t, c, "http://public.example.org:"+redirector.port()+"/hook")
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusTemporaryRedirect || internal.hits.Load() != 0 {
			t.Errorf("status %d, internal hits %d; want the 307 itself and nothing inside", res.StatusCode, internal.hits.Load())
		}
	})

	t.Run("a proxy from the environment is not used", func(t *testing.T) {
		proxy := newTarget(t, nil)
		t.Setenv("HTTP_PROXY", proxy.URL)
		t.Setenv("HTTPS_PROXY", proxy.URL)
		direct := newTarget(t, nil)
		c, err := outbound.New(outbound.Config{Resolver: dns, Allow: []string{"allowed.example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := post(t, c, "http://allowed.example.org:"+direct.port()+"/"); err != nil {
			t.Fatal(err)
		}
		if direct.hits.Load() != 1 || proxy.hits.Load() != 0 {
			t.Errorf("direct %d, proxy %d; want the request to go direct", direct.hits.Load(), proxy.hits.Load())
		}
	})
}

func TestAllowListedTargetsAreReachedAndAnswersAreBounded(t *testing.T) {
	big := newTarget(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
	})
	c, err := outbound.New(outbound.Config{Allow: []string{"127.0.0.1/32"}, MaxResponseBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	res, err := post(t, c, big.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || len(res.Body) != 1000 {
		t.Errorf("status %d, body %d bytes; want 200 and the first 1000 bytes", res.StatusCode, len(res.Body))
	}
}

// Failures say what happened in words that reveal nothing about the
// target's ports.
func TestFailuresDoNotRevealPortState(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	release := make(chan struct{})
	slow := newTarget(t, func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // before the server closes
	c, err := outbound.New(outbound.Config{Allow: []string{"127.0.0.1/32"}, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		url  string
		want string
	}{
		"a closed port": {closed, "could not connect"},
		"a slow target": {slow.URL + "/", "timed out"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := post(t, c, tt.url)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Do = %v, want %q", err, tt.want)
			}
			u, _ := url.Parse(tt.url)
			for _, leak := range []string{"connection refused", "reset", u.Port(), "127.0.0.1"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q reveals %q", err, leak)
				}
			}
		})
	}
	// The cause is kept for logs.
	_, err = post(t, c, closed)
	var oe *outbound.Error
	if !errors.As(err, &oe) || oe.Unwrap() == nil {
		t.Errorf("error %v keeps no cause", err)
	}
}
