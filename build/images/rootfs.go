package main

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// rootFS returns the image's one layer, an uncompressed tar: the binary
// at binaryDir/<name>, /etc/passwd and /etc/group with root and the
// non-root user, /etc/nsswitch.conf, the CA certificates, the user's home
// and /tmp. Every entry has the same time, numeric owners and a fixed
// order, so the same binary gives the same layer.
func rootFS(spec imageSpec, binary string, mtime time.Time) ([]byte, error) {
	bin, err := os.Open(binary)
	if err != nil {
		return nil, err
	}
	defer bin.Close()
	fi, err := bin.Stat()
	if err != nil {
		return nil, err
	}

	certs := caCertificates()
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", userName, uid, uid, userName, home)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", userName, uid)
	entries := []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "home/", mode: 0o755},
		{name: home[1:] + "/", mode: 0o700, owner: uid},
		{name: "tmp/", mode: 0o1777},
		{name: "usr/", mode: 0o755},
		{name: "usr/local/", mode: 0o755},
		{name: binaryDir[1:] + "/", mode: 0o755},
		{name: path.Join(binaryDir[1:], spec.name), mode: 0o755, size: fi.Size(), r: bin},
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := e.write(tw, mtime); err != nil {
			return nil, fmt.Errorf("root filesystem: %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// entry is one file or folder (a name ending in "/") of the layer.
type entry struct {
	name  string
	mode  int64
	owner int // uid and gid
	data  []byte
	size  int64     // with r: the size of what r yields
	r     io.Reader // read instead of data when set
}

func (e entry) write(tw *tar.Writer, mtime time.Time) error {
	h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.owner, Gid: e.owner, ModTime: mtime, Format: tar.FormatPAX}
	if strings.HasSuffix(e.name, "/") {
		h.Typeflag = tar.TypeDir
		return tw.WriteHeader(h)
	}
	h.Typeflag = tar.TypeReg
	r, size := e.r, e.size
	if r == nil {
		r, size = bytes.NewReader(e.data), int64(len(e.data))
	}
	h.Size = size
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := io.Copy(tw, r)
	return err
}

// caCertificates is the Mozilla (NSS) root store as a PEM bundle, from a
// pinned Go module rather than the build machine, so every build ships
// the same roots. Roots that NSS trusts only with extra constraints (a
// distrust-after date) cannot carry them in a PEM bundle and are left out.
func caCertificates() []byte {
	var b bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return b.Bytes()
}
