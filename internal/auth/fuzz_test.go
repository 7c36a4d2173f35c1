package auth

import (
	"context"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/internal/auth/localissuer"
)

// FuzzBearer reads arbitrary Authorization headers: no panic; a header
// either carries one non-empty credential without surrounding space, or
// is refused (an empty header is no credential).
func FuzzBearer(f *testing.F) {
	for _, seed := range []string{"", "Bearer abc", "bearer  kinship_aaaaaaaa_" + strings.Repeat("b", 32), "Basic dTpw", "Bearer", "Bearer ",
		"Bearer \t", "Bearer a b", "Token x", " Bearer x", "Bearer\x00x", "BEARER eyJ.eyJ.sig"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		cred, err := bearer(header)
		switch {
		case err != nil && cred != "":
			t.Errorf("bearer(%q) = %q and %v", header, cred, err)
		case err == nil && header != "" && (cred == "" || strings.TrimSpace(cred) != cred):
			t.Errorf("bearer(%q) accepted the credential %q", header, cred)
		case err == nil && header == "" && cred != "":
			t.Errorf("an empty header gave %q", cred)
		}
	})
}

// FuzzVerifyToken verifies arbitrary bearer tokens — garbage, JWTs with
// any header and claims, tokens for any issuer or audience — against a
// real issuer configured with workload subjects. No panic; nothing
// unsigned is accepted; and whatever a token claims, a principal is a
// workload only with the workload's own audience, and never both a
// workload and a person's roles.
func FuzzVerifyToken(f *testing.F) {
	fx := newIssuer(f)
	mint := func(c localissuer.Claims) string {
		if c.TTL == 0 {
			c.TTL = time.Hour
		}
		tok, err := fx.issuer.Mint(c)
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	enc := base64.RawURLEncoding.EncodeToString
	for _, seed := range []string{
		mint(localissuer.Claims{Subject: "u1", Audience: "kinship", Community: "demo", Roles: []string{"organiser"}}),
		mint(localissuer.Claims{Subject: "kinship-worker", Audience: "kinship", Community: "demo", Roles: []string{"member", "workload"}}),
		mint(localissuer.Claims{Subject: "kinship-worker", Audience: "kinship-workload"}),
		mint(localissuer.Claims{Subject: "kinship-worker", Audience: "kinship", MoreAudiences: []string{"kinship-workload"}}),
		mint(localissuer.Claims{Subject: "root", Audience: "kinship", Roles: []string{"platform-admin"}}),
		enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"iss":"`+fx.issuer.URL()+`","sub":"kinship-worker","aud":"kinship-workload"}`)) + ".",
		enc([]byte(`{"alg":"HS256"}`)) + "." + enc([]byte(`{"aud":["kinship-workload",1]}`)) + ".c2ln",
		"a.b.c", "...", "eyJ", "",
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		unverifiedClaims(raw) // must not panic on anything
		p, err := fx.verifier.Verify(ctx, raw)
		if err != nil {
			return
		}
		if strings.Count(raw, ".") != 2 {
			t.Fatalf("accepted %q, which is no JWT", raw)
		}
		_, aud := unverifiedClaims(raw)
		if p.Has(Workload) {
			if p.Kind != KindWorkload || len(p.Roles) != 1 || p.Community != "" || !containsOnly(aud, "kinship-workload") {
				t.Errorf("workload principal %+v from a token for %v", p, aud)
			}
			return
		}
		if p.Kind != KindUser || (p.Community == "" && !p.Has(PlatformAdmin)) {
			t.Errorf("person principal %+v", p)
		}
	})
}

func containsOnly(aud []string, want string) bool {
	for _, a := range aud {
		if a != want {
			return false
		}
	}
	return len(aud) > 0
}

// FuzzClientAddress reads arbitrary peers and X-Forwarded-For headers:
// no panic; behind no trusted proxy the answer is the peer's own address;
// and the address never comes from an entry left of an untrusted one.
func FuzzClientAddress(f *testing.F) {
	for _, seed := range [][2]string{
		{"10.0.0.5:443", "203.0.113.9"}, {"10.0.0.5:443", "1.2.3.4, 203.0.113.9, 10.1.1.1"}, {"198.51.100.4:1", "203.0.113.9"},
		{"[2001:db8::1]:443", "[2001:db8::7]:5555, unknown"}, {"garbage", "1.1.1.1"}, {"10.0.0.5:1", ",,,"}, {"10.0.0.5:1", "fe80::1%eth0"},
		{"::", "::,0"}, {"10.0.0.5:1", "10.0.0.5, 1.2.3.4, junk"},
	} {
		f.Add(seed[0], seed[1])
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/64")}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		got := clientAddress(peer, []string{xff}, trusted)
		if untrusted := clientAddress(peer, []string{xff}, nil); untrusted != clientAddress(peer, nil, nil) {
			t.Errorf("without trusted proxies the header changed the address: %q", untrusted)
		}
		addr, ok := parseHop(peer)
		if !ok {
			if got != peer {
				t.Errorf("an unreadable peer %q gave %q", peer, got)
			}
			return
		}
		if !isTrusted(addr, trusted) {
			if got != addr.String() {
				t.Errorf("an untrusted peer %q forwarded %q and became %q", peer, xff, got)
			}
			return
		}
		if got == addr.String() {
			// The trusted proxy itself: no client wrote that.
			return
		}
		// The answer is the peer, or a hop with only trusted proxies right
		// of it: never a value a client wrote left of an untrusted hop.
		hops := strings.Split(xff, ",")
		from := -1
		for i := len(hops) - 1; i >= 0; i-- {
			if h, ok := parseHop(hops[i]); ok && h.String() == got {
				from = i
				break
			}
		}
		if from < 0 {
			if got != addr.String() {
				t.Errorf("peer %q, X-Forwarded-For %q: %q is neither", peer, xff, got)
			}
			return
		}
		for _, right := range hops[from+1:] {
			if h, ok := parseHop(right); !ok || !isTrusted(h, trusted) {
				t.Errorf("peer %q, X-Forwarded-For %q: %q came from left of the untrusted hop %q", peer, xff, got, right)
			}
		}
	})
}

// FuzzParseAPIKey reads arbitrary presented keys: no panic, and a key is
// parsed only in the one shape keys have.
func FuzzParseAPIKey(f *testing.F) {
	k, err := NewAPIKey()
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{k.Plain, "kinship_", "kinship_abc_def", "kinship_aaaaaaaa_" + strings.Repeat("b", 31), "kinship_aaaaaaaa__" + strings.Repeat("b", 31)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, plain string) {
		prefix, err := ParseAPIKey(plain)
		if err != nil {
			return
		}
		if !IsAPIKey(plain) || len(prefix) != 8 || plain != apiKeyScheme+prefix+"_"+plain[len(apiKeyScheme)+9:] || len(plain) != len(apiKeyScheme)+8+1+32 {
			t.Errorf("ParseAPIKey(%q) = %q", plain, prefix)
		}
	})
}
