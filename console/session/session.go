// Package session keeps the console's signed-in sessions on the server:
// the browser holds only a random session id in an HttpOnly cookie; the
// access token, the person's claims and the CSRF token stay here. Sessions
// live in memory, or in a file as well so a restart keeps them.
package session

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Session is one signed-in person in one browser.
type Session struct {
	// Key is the SHA-256 of the cookie's id, so the store (and its file)
	// never holds a usable cookie value.
	Key string `json:"key"`
	// CSRF must come back with every request that changes something.
	CSRF string `json:"csrf"`

	Subject   string   `json:"sub"`
	Name      string   `json:"name"`
	Community string   `json:"community"`
	Roles     []string `json:"roles"`
	MemberID  string   `json:"member_id"`
	// AccessToken is the person's own token for Kinship's APIs.
	AccessToken string `json:"access_token"`

	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	// Expires is the hard end: the access token's expiry or the maximum
	// session age, whichever comes first.
	Expires time.Time `json:"expires"`
}

// Has reports whether the session holds role.
func (s Session) Has(role string) bool { return slices.Contains(s.Roles, role) }

// Login is a sign-in in progress: what the callback must find again.
type Login struct {
	Key      string    `json:"key"`
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	ReturnTo string    `json:"return_to"`
	Expires  time.Time `json:"expires"`
}

// Options bound sessions' lifetimes.
type Options struct {
	// MaxAge is the longest a session lives; 0 means 12 hours.
	MaxAge time.Duration
	// IdleTimeout ends a session unused this long; 0 means 2 hours.
	IdleTimeout time.Duration
	// File, when set, keeps sessions across restarts (mode 0600).
	File string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store holds sessions and logins in progress.
type Store struct {
	opts Options

	mu       sync.Mutex
	sessions map[string]Session
	logins   map[string]Login
}

// loginTTL bounds how long a sign-in may take at the issuer.
const loginTTL = 10 * time.Minute

// New returns a store, loading opts.File when it exists.
func New(opts Options) (*Store, error) {
	if opts.MaxAge == 0 {
		opts.MaxAge = 12 * time.Hour
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 2 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{opts: opts, sessions: map[string]Session{}, logins: map[string]Login{}}
	if opts.File != "" {
		raw, err := os.ReadFile(opts.File)
		switch {
		case err == nil:
			var saved []Session
			if err := json.Unmarshal(raw, &saved); err != nil {
				return nil, fmt.Errorf("read sessions %s: %w", opts.File, err)
			}
			now := opts.Now()
			for _, ss := range saved {
				if s.live(ss, now) {
					s.sessions[ss.Key] = ss
				}
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("read sessions: %w", err)
		}
	}
	return s, nil
}

// ErrNotFound means no live session or login has the id.
var ErrNotFound = errors.New("session not found or expired")

func (s *Store) live(ss Session, now time.Time) bool {
	return now.Before(ss.Expires) && now.Sub(ss.LastSeen) < s.opts.IdleTimeout
}

// Create starts a session for a signed-in person and returns the id for
// the cookie. tokenExpiry is when the access token expires.
func (s *Store) Create(ss Session, tokenExpiry time.Time) (string, Session, error) {
	id := Random()
	now := s.opts.Now()
	ss.Key = hash(id)
	ss.CSRF = Random()
	ss.Created, ss.LastSeen = now, now
	ss.Expires = now.Add(s.opts.MaxAge)
	if !tokenExpiry.IsZero() && tokenExpiry.Before(ss.Expires) {
		ss.Expires = tokenExpiry
	}
	s.mu.Lock()
	s.sweepLocked(now)
	s.sessions[ss.Key] = ss
	err := s.saveLocked()
	s.mu.Unlock()
	return id, ss, err
}

// Get returns the live session of id and marks it used.
func (s *Store) Get(id string) (Session, error) {
	if id == "" {
		return Session{}, ErrNotFound
	}
	key := hash(id)
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[key]
	if !ok || !s.live(ss, now) {
		if ok {
			delete(s.sessions, key)
			_ = s.saveLocked()
		}
		return Session{}, ErrNotFound
	}
	// Writing on every request would make the file a hot spot; a minute's
	// precision is plenty for an idle timeout of hours.
	if now.Sub(ss.LastSeen) > time.Minute {
		ss.LastSeen = now
		s.sessions[key] = ss
		_ = s.saveLocked()
	}
	return ss, nil
}

// Delete ends the session of id (signing out); ending it twice is harmless.
func (s *Store) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, hash(id))
	return s.saveLocked()
}

// StartLogin remembers a sign-in in progress and returns the id for its
// cookie.
func (s *Store) StartLogin(l Login) string {
	id := Random()
	now := s.opts.Now()
	l.Key = hash(id)
	l.Expires = now.Add(loginTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.logins {
		if now.After(old.Expires) {
			delete(s.logins, k)
		}
	}
	s.logins[l.Key] = l
	return id
}

// FinishLogin returns and forgets the sign-in of id: a login is used once.
func (s *Store) FinishLogin(id string) (Login, error) {
	key := hash(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.logins[key]
	delete(s.logins, key)
	if id == "" || !ok || s.opts.Now().After(l.Expires) {
		return Login{}, ErrNotFound
	}
	return l, nil
}

// Len counts live sessions (for tests and metrics).
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.opts.Now())
	return len(s.sessions)
}

func (s *Store) sweepLocked(now time.Time) {
	for k, ss := range s.sessions {
		if !s.live(ss, now) {
			delete(s.sessions, k)
		}
	}
}

// saveLocked writes every session to the file, atomically.
func (s *Store) saveLocked() error {
	if s.opts.File == "" {
		return nil
	}
	all := make([]Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	raw, err := json.Marshal(all)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.opts.File), ".sessions-*")
	if err != nil {
		return fmt.Errorf("save sessions: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("save sessions: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save sessions: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.opts.File)
}

// Random returns 32 random bytes, base64url-encoded.
func Random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func hash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
