package authtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// Outcomes of a guarded call, as the services' access tables write them.
const (
	Unauthenticated = "unauthenticated"
	Denied          = "permission_denied"
	Allowed         = "allowed"
)

// Call posts body as Connect JSON to url (a procedure's full URL) with
// token, when set, as the bearer, and returns "ok" or the Connect error
// code.
func Call(t testing.TB, url, token string, body any) string {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		return "ok"
	}
	var e struct{ Code string }
	if err := json.Unmarshal(out, &e); err != nil {
		return fmt.Sprintf("http %d %s", res.StatusCode, out)
	}
	return e.Code
}

// CheckGuard compares a call's outcome with its access table entry:
// Allowed means the guard let the call through, whatever the handler then
// made of it — but not refused, rate-limited or left unverified.
func CheckGuard(t testing.TB, procedure, caller, got, want string) {
	t.Helper()
	switch want {
	case Allowed:
		if got == Unauthenticated || got == Denied || got == "resource_exhausted" || got == "unavailable" {
			t.Errorf("%s as %s = %s, want it allowed", procedure, caller, got)
		}
	default:
		if got != want {
			t.Errorf("%s as %s = %s, want %s", procedure, caller, got, want)
		}
	}
}
