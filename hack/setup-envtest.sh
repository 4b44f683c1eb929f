#!/usr/bin/env bash
# setup-envtest.sh: make kube-apiserver, etcd and kubectl available for envtest
# and print the folder that holds them (use it as KUBEBUILDER_ASSETS).
#
# Order of preference:
#   1. $KUBEBUILDER_ASSETS, if it already holds the three binaries;
#   2. the setup-envtest cache folder
#      ${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s/<version>-linux-amd64/;
#   3. otherwise build pinned versions from source through the Go module proxy
#      into that folder (about 10 minutes on 2 cores, once).
#
# Only the folder is printed on stdout; progress goes to stderr.
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.0}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.6.8}"
GOOS_ARCH="$(go env GOOS)-$(go env GOARCH)"
CACHE_ROOT="${XDG_DATA_HOME:-$HOME/.local/share}/kubebuilder-envtest/k8s"
DEST="${CACHE_ROOT}/${K8S_VERSION}-${GOOS_ARCH}"

log() { echo "setup-envtest: $*" >&2; }

complete() {
	local dir="$1"
	local b
	[ -n "$dir" ] || return 1
	for b in kube-apiserver etcd kubectl; do
		[ -f "$dir/$b" ] && [ -x "$dir/$b" ] || return 1
	done
}

if complete "${KUBEBUILDER_ASSETS:-}"; then
	echo "${KUBEBUILDER_ASSETS}"
	exit 0
fi
if complete "$DEST"; then
	echo "$DEST"
	exit 0
fi

mkdir -p "$DEST"
WORK="$(mktemp -d)"
mkdir -p "$WORK/bin"
trap 'rm -rf "$WORK"' EXIT
# The build must not see the project's go.work or GOFLAGS=-mod=vendor.
export GOWORK=off GOFLAGS="${GOFLAGS:-} -buildvcs=false" CGO_ENABLED=0

build_kubernetes() {
	log "building kube-apiserver and kubectl v${K8S_VERSION} from source (about 8 minutes on 2 cores)"
	local mod="$WORK/k8s"
	mkdir -p "$mod"
	cd "$mod"
	go mod init envtest-k8s >/dev/null 2>&1
	# k8s.io/kubernetes refers to its staging modules as v0.0.0 with local
	# replaces; mirror those replaces with the published v0.Y.Z releases.
	local gomod
	gomod="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
	local minor="${K8S_VERSION#1.}"
	local staging
	staging="$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod" | sort -u)"
	{
		echo "require k8s.io/kubernetes v${K8S_VERSION}"
		for m in $staging; do echo "replace $m => $m v0.${minor}"; done
	} >>go.mod
	cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
	go mod tidy >&2
	local pkg="k8s.io/component-base/version"
	local ldflags="-s -w -X ${pkg}.gitVersion=v${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor%%.*} -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
	ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=v${K8S_VERSION} -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${minor%%.*}"
	go build -trimpath -ldflags "$ldflags" -o "$WORK/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
	go build -trimpath -ldflags "$ldflags" -o "$WORK/bin/kubectl" k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
	log "building etcd v${ETCD_VERSION} from source"
	local mod="$WORK/etcd"
	mkdir -p "$mod"
	cd "$mod"
	go mod init envtest-etcd >/dev/null 2>&1
	cat >tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
	go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >&2
	go mod tidy >&2
	go build -trimpath -ldflags "-s -w" -o "$WORK/bin/etcd" go.etcd.io/etcd/server/v3
}

[ -f "$DEST/etcd" ] && [ -x "$DEST/etcd" ] || { rm -rf "$DEST/etcd"; build_etcd; mv "$WORK/bin/etcd" "$DEST/etcd"; }
if [ ! -x "$DEST/kube-apiserver" ] || [ ! -x "$DEST/kubectl" ]; then
	build_kubernetes
	mv "$WORK/bin/kube-apiserver" "$WORK/bin/kubectl" "$DEST/"
fi
complete "$DEST" || { log "binaries missing in $DEST after build"; exit 1; }
log "envtest binaries ready in $DEST"
echo "$DEST"
