// Package assets serves the console's static files — its own stylesheet
// and script and the vendored htmx and Chart.js — from the binary, with
// content-hashed URLs that browsers may cache for a year.
package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static vendor
var files embed.FS

// Assets are the embedded files with their hashes.
type Assets struct {
	files  map[string][]byte // by name, such as "app.css" or "htmx.min.js"
	hashes map[string]string
}

// New indexes the embedded files.
func New() *Assets {
	a := &Assets{files: map[string][]byte{}, hashes: map[string]string{}}
	for _, dir := range []string{"static", "vendor"} {
		entries, _ := fs.ReadDir(files, dir)
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), ".md") {
				continue
			}
			raw, err := files.ReadFile(dir + "/" + e.Name())
			if err != nil {
				continue
			}
			sum := sha256.Sum256(raw)
			a.files[e.Name()] = raw
			a.hashes[e.Name()] = hex.EncodeToString(sum[:6])
		}
	}
	return a
}

// URL is the address of the named file, with its hash so a new version is
// a new address. An unknown name panics at template execution in tests.
func (a *Assets) URL(name string) string {
	h, ok := a.hashes[name]
	if !ok {
		panic("console: no asset " + name)
	}
	return "/assets/" + name + "?v=" + h
}

// Names lists every asset.
func (a *Assets) Names() []string {
	out := make([]string, 0, len(a.files))
	for n := range a.files {
		out = append(out, n)
	}
	return out
}

// ServeHTTP answers GET /assets/<name>.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	raw, ok := a.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	etag := `"` + a.hashes[name] + `"`
	w.Header().Set("ETag", etag)
	if r.URL.Query().Get("v") == a.hashes[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(raw)
}
