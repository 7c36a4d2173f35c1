package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 192.0.2.7 ", "", "2001:db8::/32", "::ffff:198.51.100.1", "172.16.5.9/12"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "198.51.100.1/32", "172.16.0.0/12"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d = %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0", "*"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v, want one naming it", bad, err)
		}
	}
}

func TestClientAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"no proxy trusted: the peer, whatever it forwards", "10.0.0.5:4431", []string{"203.0.113.9"}, nil, "10.0.0.5"},
		{"an untrusted peer's header is ignored", "198.51.100.4:1", []string{"203.0.113.9"}, trusted, "198.51.100.4"},
		{"a trusted proxy's client", "10.0.0.5:4431", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"the rightmost untrusted hop, not a spoofed left one", "10.0.0.5:4431", []string{"1.2.3.4, 203.0.113.9"}, trusted, "203.0.113.9"},
		{"through two trusted proxies", "10.0.0.5:1", []string{"203.0.113.9, 10.1.2.3"}, trusted, "203.0.113.9"},
		{"several headers read as one list", "10.0.0.5:1", []string{"1.2.3.4", "203.0.113.9", "10.1.2.3"}, trusted, "203.0.113.9"},
		{"a trusted proxy without a header", "10.0.0.5:1", nil, trusted, "10.0.0.5"},
		{"only trusted hops: the leftmost", "10.0.0.5:1", []string{"10.9.9.9, 10.1.2.3"}, trusted, "10.9.9.9"},
		{"garbage ends the walk at the last trusted hop", "10.0.0.5:1", []string{"evil, 10.1.2.3"}, trusted, "10.1.2.3"},
		{"IPv6 with a port and brackets", "[2001:db8:ffff::1]:443", []string{"[2001:db8::7]:5555"}, trusted, "2001:db8::7"},
		{"IPv4 written as mapped IPv6", "[::ffff:10.0.0.5]:1", []string{"::ffff:203.0.113.9"}, trusted, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientAddress(tt.peer, tt.xff, tt.trusted); got != tt.want {
				t.Errorf("clientAddress(%q, %q) = %q, want %q", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
}

// ok is the outcome of an admitted call.
const ok = connect.Code(0)

type joinOnly struct {
	membersv1connect.UnimplementedMembersServiceHandler
}

func (joinOnly) JoinCommunity(context.Context, *connect.Request[membersv1.JoinCommunityRequest]) (*connect.Response[membersv1.JoinCommunityResponse], error) {
	return connect.NewResponse(&membersv1.JoinCommunityResponse{ConfirmationSent: true}), nil
}

// Per-address join limits over real HTTP: behind a trusted proxy each
// forwarded client has its own budget, and a client cannot buy a fresh one
// by forging X-Forwarded-For; without the setting the proxy's address is
// the only one seen.
func TestJoinLimitsBehindAProxy(t *testing.T) {
	f := newIssuer(t)
	serve := func(t *testing.T, trusted []string) string {
		t.Helper()
		prefixes, err := ParseTrustedProxies(trusted)
		if err != nil {
			t.Fatal(err)
		}
		guard := NewInterceptor(Options{Tokens: f.verifier, Logger: slog.New(slog.DiscardHandler),
			Limits: Limits{PerIP: 0.001, Burst: 2, TrustedProxies: prefixes}, Policy: Policy{join: {Public: true}}})
		mux := http.NewServeMux()
		mux.Handle(membersv1connect.NewMembersServiceHandler(joinOnly{}, connect.WithInterceptors(guard)))
		srv := httptest.NewServer(mux) // the test client is the proxy, on 127.0.0.1
		t.Cleanup(srv.Close)
		return srv.URL
	}
	call := func(t *testing.T, url string, forwardedFor ...string) connect.Code {
		t.Helper()
		c := membersv1connect.NewMembersServiceClient(http.DefaultClient, url)
		req := connect.NewRequest(&membersv1.JoinCommunityRequest{Community: "demo"})
		for _, h := range forwardedFor {
			req.Header().Add("X-Forwarded-For", h)
		}
		if _, err := c.JoinCommunity(context.Background(), req); err != nil {
			return connect.CodeOf(err)
		}
		return ok
	}

	t.Run("trusted proxy", func(t *testing.T) {
		url := serve(t, []string{"127.0.0.0/8", "::1"})
		for n, want := range []connect.Code{ok, ok, connect.CodeResourceExhausted} {
			if got := call(t, url, "203.0.113.1"); got != want {
				t.Errorf("call %d from 203.0.113.1 = %v, want %v", n+1, got, want)
			}
		}
		if got := call(t, url, "203.0.113.2"); got != ok {
			t.Errorf("another client behind the proxy = %v, want admitted", got)
		}
		if got := call(t, url, "198.51.100.77, 203.0.113.1"); got != connect.CodeResourceExhausted {
			t.Errorf("the limited client forging a left-hand address = %v, want ResourceExhausted", got)
		}
	})
	t.Run("no trusted proxy", func(t *testing.T) {
		url := serve(t, nil)
		for n, want := range []connect.Code{ok, ok, connect.CodeResourceExhausted} {
			if got := call(t, url, fmt.Sprintf("203.0.113.%d", n+1)); got != want {
				t.Errorf("call %d with a fresh forwarded address = %v, want %v", n+1, got, want)
			}
		}
	})
}
