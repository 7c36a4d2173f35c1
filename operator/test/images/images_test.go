// Package images checks the container images `make images` builds
// (build/images): static, non-root, with the binary as entrypoint, CA
// certificates, OCI labels, and small.
package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kinshiphq/kinship/operator/test/internal/repo"
)

// maxCompressed bounds each image's compressed layers.
const maxCompressed = 40 << 20

func TestImagesAreStaticNonRootAndSmall(t *testing.T) {
	root := repo.Root(t)
	out := t.TempDir()
	start := time.Now()
	// The same builder and flags as `make images`, so either warms Go's
	// build cache for the other.
	if log, err := repo.Go(filepath.Join(root, "build"), nil, "run", "./images",
		"-root", root, "-out", out, "-version", "v0.0.0-test", "-revision", "0123456789abcdef"); err != nil {
		t.Fatalf("build the images: %v", err)
	} else {
		t.Logf("built in %s:\n%s", time.Since(start).Round(time.Second), log)
	}

	for _, name := range []string{"kinship", "kinship-operator"} {
		t.Run(name, func(t *testing.T) {
			img := readLayout(t, filepath.Join(out, name))
			if img.size > maxCompressed {
				t.Errorf("compressed layers %.1f MB, want at most %.0f MB", float64(img.size)/1e6, float64(maxCompressed)/(1<<20))
			}
			t.Logf("%s: %d layer(s), %.1f MB compressed", name, len(img.layers), float64(img.size)/1e6)

			c := img.config
			if c.OS != "linux" || c.Architecture != runtime.GOARCH {
				t.Errorf("platform %s/%s, want linux/%s", c.OS, c.Architecture, runtime.GOARCH)
			}
			entrypoint := "/usr/local/bin/" + name
			if len(c.Config.Entrypoint) != 1 || c.Config.Entrypoint[0] != entrypoint {
				t.Errorf("entrypoint %q, want [%s]", c.Config.Entrypoint, entrypoint)
			}
			uid, _, _ := strings.Cut(c.Config.User, ":")
			if uid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" {
				t.Errorf("user %q, want a numeric non-root uid (runAsNonRoot can only check a number)", c.Config.User)
			}
			for _, label := range []string{"title", "description", "source", "version", "revision", "created"} {
				if c.Config.Labels["org.opencontainers.image."+label] == "" {
					t.Errorf("no org.opencontainers.image.%s label", label)
				}
			}
			if v := c.Config.Labels["org.opencontainers.image.version"]; v != "v0.0.0-test" {
				t.Errorf("version label %q", v)
			}

			files := img.files
			if !strings.Contains(string(files["etc/passwd"].data), ":"+uid+":") {
				t.Errorf("/etc/passwd has no entry for uid %s:\n%s", uid, files["etc/passwd"].data)
			}
			pool := x509.NewCertPool()
			if certs := files["etc/ssl/certs/ca-certificates.crt"].data; !pool.AppendCertsFromPEM(certs) || bytes.Count(certs, []byte("BEGIN CERTIFICATE")) < 100 {
				t.Errorf("CA certificates missing or too few")
			}
			bin, ok := files[entrypoint[1:]]
			if !ok || bin.mode&0o111 == 0 {
				t.Fatalf("entrypoint %s missing or not executable", entrypoint)
			}
			checkStatic(t, bin.data)
			if name == "kinship" {
				checkNoDevStack(t, bin.data)
			}
			if _, err := os.Stat(filepath.Join(out, name+".tar")); err != nil {
				t.Errorf("no tarball: %v", err)
			}
		})
	}
}

func checkStatic(t *testing.T, data []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("entrypoint is no ELF binary: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("entrypoint is dynamically linked (%v): the image has no libc", p.Type)
		}
	}
}

// checkNoDevStack: the image's kinship is built without `kinship dev` and
// `kinship bench`, so it links no Temporal server and no Kafka broker.
func checkNoDevStack(t *testing.T, data []byte) {
	t.Helper()
	info, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("build info: %v", err)
	}
	for _, dep := range info.Deps {
		if dep.Path == "go.temporal.io/server" || strings.HasPrefix(dep.Path, "github.com/twmb/franz-go/pkg/kfake") {
			t.Errorf("kinship links %s: the development stack is in the image", dep.Path)
		}
	}
	if !strings.Contains(buildSetting(info, "-tags"), "nodev") {
		t.Errorf("kinship built with tags %q, want nodev", buildSetting(info, "-tags"))
	}
}

func buildSetting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// image is what readLayout found.
type image struct {
	config struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Config       struct {
			Entrypoint []string          `json:"Entrypoint"`
			User       string            `json:"User"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
	}
	layers []string
	size   int64 // compressed layers
	files  map[string]file
}

type file struct {
	mode int64
	data []byte
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// readLayout reads the one image of an OCI image layout with nothing but
// the standard library, checking every blob against its digest.
func readLayout(t *testing.T, dir string) image {
	t.Helper()
	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	if len(index.Manifests) != 1 || index.Manifests[0].MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("index.json: %+v, want one OCI image manifest", index.Manifests)
	}
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(blob(t, dir, index.Manifests[0]), &manifest); err != nil {
		t.Fatal(err)
	}
	var img image
	if err := json.Unmarshal(blob(t, dir, manifest.Config), &img.config); err != nil {
		t.Fatal(err)
	}
	img.files = map[string]file{}
	for _, l := range manifest.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Errorf("layer media type %s", l.MediaType)
		}
		img.layers = append(img.layers, l.Digest)
		img.size += l.Size
		if err := untar(blob(t, dir, l), img.files); err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
	}
	return img
}

func blob(t *testing.T, dir string, d descriptor) []byte {
	t.Helper()
	hexDigest, ok := strings.CutPrefix(d.Digest, "sha256:")
	if !ok {
		t.Fatalf("digest %q", d.Digest)
	}
	data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", hexDigest))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != hexDigest || int64(len(data)) != d.Size {
		t.Fatalf("blob %s does not match its descriptor", d.Digest)
	}
	return data
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// untar adds a gzipped tar's regular files and folders to files.
func untar(gz []byte, files map[string]file) error {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			files[strings.TrimPrefix(h.Name, "./")] = file{mode: h.Mode, data: data}
		case tar.TypeDir:
			files[strings.TrimPrefix(h.Name, "./")] = file{mode: h.Mode}
		default:
			return fmt.Errorf("unexpected entry %s of type %c", h.Name, h.Typeflag)
		}
	}
}
