// Command images builds Kinship's two container images, kinship and
// kinship-operator, with no Docker engine and no base image: each is one
// layer holding a static binary, CA certificates and a non-root user,
// assembled with go-containerregistry and written as an OCI image layout
// (dist/images/<name>/) and a `docker load`-able tarball
// (dist/images/<name>.tar).
//
// Run from the repository root with `make images`, or:
//
//	GOWORK=off go -C build run ./images -version v0.1.0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// config is everything the builder takes from its flags.
type config struct {
	root     string // the repository: holds go.work, cmd/kinship, operator/cmd
	out      string // where the layouts and tarballs go
	registry string // repository prefix in the tarballs' tags
	version  string // image tag, and the kinship binary's version
	revision string // source revision for the OCI labels
	created  time.Time
	arch     string
	only     []string
}

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var created, only string
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.root, "root", "", "repository root; empty finds the folder holding go.work above the working directory")
	fs.StringVar(&c.out, "out", "", "output folder; empty means <root>/dist/images")
	fs.StringVar(&c.registry, "registry", "ghcr.io/kinshiphq", "repository prefix of the images' names in the tarballs")
	fs.StringVar(&c.version, "version", "dev", "image tag and the binaries' version")
	fs.StringVar(&c.revision, "revision", "", "source revision (a git commit) for the org.opencontainers.image.revision label")
	fs.StringVar(&created, "created", "1970-01-01T00:00:00Z", "creation time of the images (RFC 3339); fixed so that builds are reproducible")
	fs.StringVar(&c.arch, "arch", runtime.GOARCH, "CPU architecture (GOARCH) of the linux images")
	fs.StringVar(&only, "only", "", "comma-separated images to build; empty builds all")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	if !tagPattern.MatchString(c.version) {
		errs = append(errs, fmt.Errorf("-version %q is not a valid image tag", c.version))
	}
	t, err := time.Parse(time.RFC3339, created)
	if err != nil {
		errs = append(errs, fmt.Errorf("-created: %w", err))
	}
	c.created = t.UTC()
	for _, name := range strings.Split(only, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if !slices.ContainsFunc(images, func(s imageSpec) bool { return s.name == name }) {
			errs = append(errs, fmt.Errorf("-only: no image %q", name))
		}
		c.only = append(c.only, name)
	}
	return c, errors.Join(errs...)
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, stdout io.Writer) error {
	if cfg.root == "" {
		root, err := findRoot()
		if err != nil {
			return err
		}
		cfg.root = root
	}
	if cfg.out == "" {
		cfg.out = filepath.Join(cfg.root, "dist", "images")
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "kinship-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	for _, spec := range images {
		if len(cfg.only) > 0 && !slices.Contains(cfg.only, spec.name) {
			continue
		}
		start := time.Now()
		bin := filepath.Join(work, spec.name)
		if err := goBuild(ctx, cfg, spec, bin); err != nil {
			return err
		}
		built := time.Since(start)
		res, err := writeImage(cfg, spec, bin)
		if err != nil {
			return fmt.Errorf("image %s: %w", spec.name, err)
		}
		fmt.Fprintf(stdout, "%s\t%s\tlayers %.1f MB compressed, binary %.1f MB\tbuild %s, image %s\n\t%s\n\t%s\n",
			spec.name, res.digest, mb(res.compressed), mb(res.binary),
			built.Round(100*time.Millisecond), (time.Since(start) - built).Round(100*time.Millisecond),
			res.layout, res.tarball)
	}
	return nil
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// findRoot walks up from the working directory to the folder holding
// go.work: the repository root.
func findRoot() (string, error) {
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
			return "", errors.New("no go.work above the working directory: pass -root")
		}
		dir = parent
	}
}
