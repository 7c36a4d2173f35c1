package skaffold

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

// Every artifact is a ko build of a main package that exists, and every
// dependency path it watches matches something.
func TestArtifactsBuildPackagesThatExist(t *testing.T) {
	root := repo.Root(t)
	for profile, c := range effectiveConfigs(t, root) {
		for _, a := range c.Build.Artifacts {
			t.Run(profile+"/"+a.Image, func(t *testing.T) {
				if a.Ko == nil {
					t.Fatal("not a ko artifact")
				}
				dir := filepath.Join(root, a.Context, a.Ko.Dir, a.Ko.Main)
				if !hasMainPackage(t, dir) {
					t.Errorf("ko.main %s: no package main in %s", a.Ko.Main, dir)
				}
				for _, p := range a.Ko.Dependencies.Paths {
					if !matchesSomething(t, filepath.Join(root, a.Context), p) {
						t.Errorf("dependency path %q matches nothing", p)
					}
				}
				if a.Image == "kinship" && !slices.Contains(a.Ko.Flags, "-tags=nodev") {
					t.Errorf("kinship is built with %q: without -tags=nodev it links the development stack (Temporal server, Kafka broker) and grows past 40 MB", a.Ko.Flags)
				}
			})
		}
	}
}

func hasMainPackage(t *testing.T, dir string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			if strings.TrimSpace(line) == "package main" {
				return true
			}
		}
	}
	return false
}

// matchesSomething: a skaffold dependency path is a file, a folder, or a
// glob whose part before "**" exists.
func matchesSomething(t *testing.T, context, pattern string) bool {
	t.Helper()
	prefix, _, _ := strings.Cut(pattern, "**")
	matches, err := filepath.Glob(filepath.Join(context, strings.TrimSuffix(prefix, "/")))
	if err != nil {
		t.Fatalf("pattern %q: %v", pattern, err)
	}
	return len(matches) > 0
}
