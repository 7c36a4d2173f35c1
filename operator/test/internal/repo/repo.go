// Package repo finds the repository from a test's working directory and
// runs the repository's pinned tools (helm from tools/go.mod, the image
// builder in build/) the way the Makefile does.
package repo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// KubeVersion is the Kubernetes version charts are rendered for: that of
// envtest's kube-apiserver. A helm built from source would otherwise
// assume 1.20.
const KubeVersion = "1.37.2"

// Root is the repository root: the folder above the working directory
// that holds go.work.
func Root(t testing.TB) string {
	t.Helper()
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// FindRoot is Root for code with no testing.TB, such as TestMain.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory")
		}
		dir = parent
	}
}

// EnvtestAssets finds envtest's kube-apiserver and etcd:
// KUBEBUILDER_ASSETS, else the cache operator/hack/envtest-assets.sh fills.
func EnvtestAssets() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".cache", "kinship", "envtest", "v"+KubeVersion)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if fi, err := os.Stat(filepath.Join(dir, bin)); err != nil || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("envtest binary %s not found in %s: run `make envtest-assets` (it builds kube-apiserver and etcd from the Go module proxy)", bin, dir)
		}
	}
	return dir, nil
}

// Go runs the go command in dir with the given extra environment, outside
// the workspace (GOWORK=off) and with the toolchain that built this test
// unless GOTOOLCHAIN says otherwise. It returns stdout; a failure's error
// holds stderr.
func Go(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if os.Getenv("GOTOOLCHAIN") == "" {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+runtime.Version())
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return stdout.String(), fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String(), err
	}
	return stdout.String(), nil
}

// Helm runs helm v3 as pinned in tools/go.mod (`go tool helm`), from the
// repository root.
func Helm(root string, args ...string) (string, error) {
	return Go(root, nil, append([]string{"tool", "-modfile=" + filepath.Join(root, "tools", "go.mod"), "helm"}, args...)...)
}
