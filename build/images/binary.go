package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// goBuild builds spec's binary for linux/cfg.arch into out: static
// (CGO_ENABLED=0), stripped, with paths trimmed. It builds in workspace
// mode from the root, as `go test work` tests the code.
func goBuild(ctx context.Context, cfg config, spec imageSpec, out string) error {
	if err := checkDevOnly(cfg.root, spec); err != nil {
		return err
	}
	ldflags := "-s -w"
	if spec.versionVar != "" {
		ldflags += " -X " + spec.versionVar + "=" + cfg.version
	}
	args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", out}
	if len(spec.tags) > 0 {
		args = append(args, "-tags", strings.Join(spec.tags, ","))
	}
	args = append(args, spec.pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = cfg.root
	// Later entries win: this program itself runs with GOWORK=off, the
	// binaries are built in the workspace.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+cfg.arch, "GOWORK=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return checkStatic(out)
}

// checkStatic fails unless path is an ELF executable that needs no
// dynamic loader and no shared library: the image has neither.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return fmt.Errorf("%s: %w", path, err)
	} else if len(libs) > 0 {
		return fmt.Errorf("%s needs shared libraries %v", path, libs)
	}
	return nil
}

// checkDevOnly fails when a development-only file of spec's package lacks
// the build constraint that leaves it out, with a message that says so
// (the compiler would only report the helpers it cannot find).
func checkDevOnly(root string, spec imageSpec) error {
	var missing []string
	for _, glob := range spec.devOnly {
		files, err := filepath.Glob(filepath.Join(root, spec.pkg, glob))
		if err != nil {
			return err
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			first, _, _ := strings.Cut(string(src), "\n")
			if strings.TrimSpace(first) != "//go:build !nodev" {
				rel, _ := filepath.Rel(root, f)
				missing = append(missing, rel)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s must start with //go:build !nodev: the image's binary is built without the development commands", strings.Join(missing, ", "))
	}
	return nil
}
