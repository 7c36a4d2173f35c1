#!/usr/bin/env bash
# Build the kube-apiserver and etcd binaries that envtest runs, from the Go
# module proxy, and cache them under $HOME/.cache/kinship/envtest/<version>/.
#
# The usual envtest download is not reachable on these machines, but both
# programs build from source: etcd from a throwaway module whose main calls
# etcdmain.Main, kube-apiserver from a throwaway module that requires
# k8s.io/kubernetes with every staging module pinned by a replace directive.
# A binary that is already there with the right version is not rebuilt.
#
# The last line printed on stdout is the folder to use as KUBEBUILDER_ASSETS.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="${KINSHIP_ENVTEST_CACHE:-$HOME/.cache/kinship/envtest}"
DIR="$CACHE_ROOT/$KUBE_VERSION"
# The staging modules of Kubernetes 1.x.y are tagged v0.x.y.
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"

export GOTOOLCHAIN="${GOTOOLCHAIN_ENVTEST:-go1.27.3}"
export GOWORK=off
export GOFLAGS=-buildvcs=false
export CGO_ENABLED=0

log() { echo "envtest-assets: $*" >&2; }

mkdir -p "$DIR/src"

# The version is read whole before grep looks at it: with pipefail, a
# grep -q that stops at the first matching line can make the writer die of
# SIGPIPE and the check fail at random under load.
have_etcd() {
  local out
  [ -x "$DIR/etcd" ] && out="$("$DIR/etcd" --version 2>/dev/null)" && grep -q "etcd Version: ${ETCD_VERSION#v}$" <<<"$out"
}

have_apiserver() {
  local out
  [ -x "$DIR/kube-apiserver" ] && out="$("$DIR/kube-apiserver" --version 2>/dev/null)" && grep -q "^Kubernetes ${KUBE_VERSION}$" <<<"$out"
}

build_etcd() {
  local mod="$DIR/src/etcd-$ETCD_VERSION"
  log "building etcd $ETCD_VERSION in $mod"
  rm -rf "$mod" && mkdir -p "$mod"
  cat >"$mod/main.go" <<'GO'
// Command etcd is the etcd server, built from the Go module proxy for envtest.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (
    cd "$mod"
    go mod init kinship.local/envtest/etcd >/dev/null 2>&1
    go mod edit -go=1.26.10
    for m in api/v3 client/pkg/v3 client/v3 pkg/v3 server/v3; do
      go mod edit -require="go.etcd.io/etcd/$m@$ETCD_VERSION"
    done
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$DIR/etcd.tmp" .
  )
  mv "$DIR/etcd.tmp" "$DIR/etcd"
}

build_apiserver() {
  local mod="$DIR/src/kube-apiserver-$KUBE_VERSION"
  log "building kube-apiserver $KUBE_VERSION in $mod (about 1000 CPU-seconds when cold)"
  rm -rf "$mod" && mkdir -p "$mod"
  (
    cd "$mod"
    go mod init kinship.local/envtest/kube-apiserver >/dev/null 2>&1
    go mod edit -go=1.26.10
    # k8s.io/kubernetes points its staging modules at ./staging/src/...; pin
    # each of them to the matching published version instead.
    local gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
    [ -f "$gomod" ] || { log "cannot find the go.mod of k8s.io/kubernetes@$KUBE_VERSION"; exit 1; }
    go mod edit -require="k8s.io/kubernetes@$KUBE_VERSION"
    local staging
    staging="$(sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => ./staging/src/.*#\1#p' "$gomod")"
    [ -n "$staging" ] || { log "no staging replace directives found in $gomod"; exit 1; }
    for m in $staging; do
      go mod edit -replace="$m=$m@$STAGING_VERSION"
    done
    cat >tools.go <<'GO'
//go:build tools

// Package tools records the one program this module builds.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
    go mod tidy
    local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
    local pkg=k8s.io/component-base/version
    go build -trimpath -o "$DIR/kube-apiserver.tmp" -ldflags "-s -w \
      -X $pkg.gitVersion=$KUBE_VERSION \
      -X $pkg.gitMajor=1 \
      -X $pkg.gitMinor=$minor \
      -X $pkg.gitTreeState=clean \
      -X $pkg.buildDate=1970-01-01T00:00:00Z" \
      k8s.io/kubernetes/cmd/kube-apiserver
  )
  mv "$DIR/kube-apiserver.tmp" "$DIR/kube-apiserver"
}

if have_etcd; then log "etcd $ETCD_VERSION present"; else build_etcd; fi
if have_apiserver; then log "kube-apiserver $KUBE_VERSION present"; else build_apiserver; fi
have_etcd || { log "etcd in $DIR does not report version $ETCD_VERSION"; exit 1; }
have_apiserver || { log "kube-apiserver in $DIR does not report version $KUBE_VERSION"; exit 1; }
echo "$DIR"
