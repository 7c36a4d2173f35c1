package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const source = "https://github.com/kinshiphq/kinship"

// result describes one written image.
type result struct {
	digest     v1.Hash
	compressed int64 // bytes of the compressed layers
	binary     int64
	layout     string // OCI image layout folder
	tarball    string // docker-loadable tarball
}

// writeImage assembles spec's image around binary and writes it under
// cfg.out as an OCI image layout and a tarball.
func writeImage(cfg config, spec imageSpec, binary string) (result, error) {
	img, err := buildImage(cfg, spec, binary)
	if err != nil {
		return result{}, err
	}
	res := result{
		layout:  filepath.Join(cfg.out, spec.name),
		tarball: filepath.Join(cfg.out, spec.name+".tar"),
	}
	if res.digest, err = img.Digest(); err != nil {
		return res, err
	}
	layers, err := img.Layers()
	if err != nil {
		return res, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return res, err
		}
		res.compressed += n
	}
	if fi, err := os.Stat(binary); err == nil {
		res.binary = fi.Size()
	}

	if err := os.RemoveAll(res.layout); err != nil {
		return res, err
	}
	p, err := layout.Write(res.layout, empty.Index)
	if err != nil {
		return res, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": cfg.version,
	})); err != nil {
		return res, fmt.Errorf("write layout: %w", err)
	}
	tag, err := name.NewTag(cfg.registry + "/" + spec.name + ":" + cfg.version)
	if err != nil {
		return res, err
	}
	if err := tarball.WriteToFile(res.tarball, tag, img); err != nil {
		return res, fmt.Errorf("write tarball: %w", err)
	}
	return res, nil
}

// buildImage is an empty base plus one layer (see rootFS), with OCI
// media types and a config that runs the binary as the non-root user.
func buildImage(cfg config, spec imageSpec, binary string) (v1.Image, error) {
	tarBytes, err := rootFS(spec, binary, cfg.created)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarBytes); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := gz.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: cfg.created},
			CreatedBy: "build/images: " + spec.name + " (static binary, CA certificates, user " + userName + ")",
		},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	labels := map[string]string{
		"org.opencontainers.image.title":       spec.name,
		"org.opencontainers.image.description": spec.description,
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.url":         source,
		"org.opencontainers.image.version":     cfg.version,
		"org.opencontainers.image.created":     cfg.created.Format("2006-01-02T15:04:05Z"),
	}
	if cfg.revision != "" {
		labels["org.opencontainers.image.revision"] = cfg.revision
	}
	cf.Created = v1.Time{Time: cfg.created}
	cf.OS, cf.Architecture = "linux", cfg.arch
	cf.Config = v1.Config{
		Entrypoint: []string{binaryDir + "/" + spec.name},
		User:       strconv.Itoa(uid) + ":" + strconv.Itoa(uid),
		WorkingDir: home,
		Env: []string{
			"PATH=" + binaryDir,
			"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		},
		Labels: labels,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels).(v1.Image), nil
}
