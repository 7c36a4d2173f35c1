package devstack

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// devSecret returns the secret kept in dataDir/secrets/name, making a
// random one the first time, so links signed with it survive restarts.
func devSecret(dataDir, name string) ([]byte, error) {
	path := filepath.Join(dataDir, "secrets", name)
	b, err := os.ReadFile(path)
	if err == nil {
		return bytes.TrimSpace(b), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dev: secret %s: %w", name, err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := []byte(hex.EncodeToString(raw))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("dev: secret %s: %w", name, err)
	}
	if err := os.WriteFile(path, append(secret, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("dev: secret %s: %w", name, err)
	}
	return secret, nil
}
