package session

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newStore(t *testing.T, file string, c *clock) *Store {
	t.Helper()
	s, err := New(Options{MaxAge: 12 * time.Hour, IdleTimeout: 2 * time.Hour, File: file, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSessionLifetime(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		tokenExpiry time.Time
		steps       []time.Duration // uses, each after the previous
		alive       bool
	}{
		{"used within the idle timeout stays", time.Time{}, []time.Duration{time.Hour, time.Hour, time.Hour}, true},
		{"idle longer than the timeout ends", time.Time{}, []time.Duration{2*time.Hour + time.Minute}, false},
		{"never outlives the maximum age", time.Time{}, []time.Duration{time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Hour, time.Minute}, false},
		{"never outlives the access token", start.Add(30 * time.Minute), []time.Duration{31 * time.Minute}, false},
		{"lives while the access token does", start.Add(30 * time.Minute), []time.Duration{29 * time.Minute}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: start}
			s := newStore(t, "", c)
			id, _, err := s.Create(Session{Subject: "orla", Roles: []string{"organiser"}, AccessToken: "tok"}, tt.tokenExpiry)
			if err != nil {
				t.Fatal(err)
			}
			var got error
			for _, d := range tt.steps {
				c.now = c.now.Add(d)
				_, got = s.Get(id)
			}
			if alive := got == nil; alive != tt.alive {
				t.Fatalf("alive = %v (err %v), want %v", alive, got, tt.alive)
			}
		})
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	s := newStore(t, "", &clock{now: time.Now()})
	id, _, _ := s.Create(Session{Subject: "orla"}, time.Time{})
	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after sign-out = %v, want ErrNotFound", err)
	}
	if err := s.Delete(id); err != nil {
		t.Fatalf("signing out twice: %v", err)
	}
}

func TestUnknownAndEmptyIDsFindNothing(t *testing.T) {
	s := newStore(t, "", &clock{now: time.Now()})
	_, _, _ = s.Create(Session{Subject: "orla"}, time.Time{})
	for _, id := range []string{"", "x", Random()} {
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestEachSessionHasItsOwnCSRFToken(t *testing.T) {
	s := newStore(t, "", &clock{now: time.Now()})
	_, a, _ := s.Create(Session{Subject: "a"}, time.Time{})
	_, b, _ := s.Create(Session{Subject: "b"}, time.Time{})
	if a.CSRF == "" || a.CSRF == b.CSRF {
		t.Fatalf("CSRF tokens %q and %q must be set and differ", a.CSRF, b.CSRF)
	}
}

func TestFileKeepsSessionsAcrossRestartsWithoutCookieValues(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sessions.json")
	c := &clock{now: time.Now()}
	s := newStore(t, file, c)
	id, _, err := s.Create(Session{Subject: "orla", AccessToken: "tok"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("session file mode %v, want 0600", info.Mode().Perm())
	}
	raw, _ := os.ReadFile(file)
	if strings.Contains(string(raw), id) {
		t.Error("the session file holds the cookie's value; it must hold only its hash")
	}
	again := newStore(t, file, c)
	got, err := again.Get(id)
	if err != nil || got.Subject != "orla" || got.AccessToken != "tok" {
		t.Fatalf("after a restart: %+v, %v", got, err)
	}
	// An expired session is not loaded again.
	c.now = c.now.Add(13 * time.Hour)
	if later := newStore(t, file, c); later.Len() != 0 {
		t.Errorf("expired sessions loaded: %d", later.Len())
	}
}

func TestALoginIsUsedOnce(t *testing.T) {
	c := &clock{now: time.Now()}
	s := newStore(t, "", c)
	id := s.StartLogin(Login{State: "st", Nonce: "n", Verifier: "v"})
	l, err := s.FinishLogin(id)
	if err != nil || l.State != "st" {
		t.Fatalf("FinishLogin = %+v, %v", l, err)
	}
	if _, err := s.FinishLogin(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second FinishLogin = %v, want ErrNotFound", err)
	}
	late := s.StartLogin(Login{State: "st"})
	c.now = c.now.Add(11 * time.Minute)
	if _, err := s.FinishLogin(late); !errors.Is(err, ErrNotFound) {
		t.Fatalf("FinishLogin after 11 minutes = %v, want ErrNotFound", err)
	}
}
