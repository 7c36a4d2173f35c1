package webhooksig

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The published Standard Webhooks test vector: a receiver's library must
// verify what Kinship signs, and Kinship what a sender's library signs.
func TestTheStandardWebhooksVector(t *testing.T) {
	const secret, id, body = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", `{"test": 2432232314}`
	at := time.Unix(1614265330, 0)
	sig, err := Sign(id, at, []byte(body), secret)
	if err != nil || sig != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("Sign = %q, %v", sig, err)
	}
	h := http.Header{}
	if err := SetHeaders(h, id, at, []byte(body), secret); err != nil {
		t.Fatal(err)
	}
	if got, err := Verify(h, []byte(body), at.Add(time.Minute), 0, secret); err != nil || got != id {
		t.Errorf("Verify = %q, %v", got, err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	old, current := mustSecret(t), mustSecret(t)
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"activities":[]}`)
	signed := func(at time.Time, secrets ...string) http.Header {
		h := http.Header{}
		if err := SetHeaders(h, "msg_1", at, body, secrets...); err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		name    string
		header  http.Header
		body    []byte
		secrets []string
		want    error
	}{
		{"the current secret", signed(now, current), body, []string{current}, nil},
		{"either of two during a rotation", signed(now, old), body, []string{current, old}, nil},
		{"a sender signing with both", signed(now, old, current), body, []string{current}, nil},
		{"a retired secret", signed(now, old), body, []string{current}, ErrNoMatch},
		{"a changed body", signed(now, current), []byte(`{"activities":[1]}`), []string{current}, ErrNoMatch},
		{"too old a timestamp (a replay)", signed(now.Add(-6*time.Minute), current), body, []string{current}, ErrTooOld},
		{"a timestamp from the future", signed(now.Add(6*time.Minute), current), body, []string{current}, ErrTooOld},
		{"no headers", http.Header{}, body, []string{current}, ErrMissingHeaders},
		{"a timestamp that is no number", func() http.Header { h := signed(now, current); h.Set(HeaderTimestamp, "soon"); return h }(), body, []string{current}, ErrBadTimestamp},
		{"another id", func() http.Header { h := signed(now, current); h.Set(HeaderID, "msg_2"); return h }(), body, []string{current}, ErrNoMatch},
		{"an unknown version", func() http.Header {
			h := signed(now, current)
			h.Set(HeaderSignature, strings.Replace(h.Get(HeaderSignature), "v1,", "v2,", 1))
			return h
		}(), body, []string{current}, ErrNoMatch},
		{"garbage", func() http.Header { h := signed(now, current); h.Set(HeaderSignature, "v1,!!! v1 , ,"); return h }(), body, []string{current}, ErrNoMatch},
		{"no usable secret", signed(now, current), body, []string{"not-a-secret"}, ErrNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(tt.header, tt.body, now, 0, tt.secrets...)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func mustSecret(t *testing.T) string {
	t.Helper()
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Key(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzVerify: any headers and body are refused or accepted, never a panic.
func FuzzVerify(f *testing.F) {
	f.Add("msg_1", "1800000000", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{}`))
	f.Add("", "", "", []byte(nil))
	f.Add("x", "-1", "v1, v1,=== v2,abc", []byte("\x00"))
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if got, err := Verify(h, body, time.Unix(1_800_000_000, 0), 0, secret); err == nil && got != id {
			t.Errorf("verified id %q, sent %q", got, id)
		}
	})
}
