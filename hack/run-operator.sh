#!/usr/bin/env bash
# run-operator.sh: run the operator from source (`make run`).
#
#   1. If the current kubeconfig reaches a cluster, install the CRDs there and
#      run the operator against it.
#   2. Otherwise start a local control plane (etcd + kube-apiserver from the
#      envtest binaries, built once by hack/setup-envtest.sh) under
#      ./.cache/control-plane, with a generated bearer token and a
#      self-signed serving certificate, write its kubeconfig, install the CRDs
#      and run the operator. It prints the `export KUBECONFIG=...` to use from
#      another shell. Ctrl-C stops the operator and the control plane; its data
#      (etcd) is kept for the next run.
#
# Extra arguments go to the manager (e.g. --watch-namespace=agents).
# RUN_OPERATOR_LOCAL=1 forces the local control plane.
# CONTROL_PLANE_ONLY=1 starts the local control plane and installs the CRDs,
# but runs no operator (hack/bench-operator.sh runs its own); it then waits
# until killed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "run-operator: $*" >&2; }

# The envtest binaries (built once) are only needed for a local control
# plane, or for their kubectl when none is installed.
ASSETS=""
KUBECTL="$(command -v kubectl || true)"
if [ -z "$KUBECTL" ]; then
	ASSETS="$(hack/setup-envtest.sh)"
	KUBECTL="$ASSETS/kubectl"
fi
# Local runs serve metrics over plain HTTP (the in-cluster default is HTTPS
# with authentication and authorization through the API server).
MANAGER_FLAGS=(--metrics-bind-address="${METRICS_ADDR:-:8085}" --metrics-secure=false --health-probe-bind-address="${PROBE_ADDR:-:8086}")

# stop_control_plane stops kube-apiserver (SIGTERM, SIGKILL after 20 s),
# then etcd.
stop_control_plane() {
	log "stopping the control plane"
	local pid
	for pid in "${API_PID:-}" "${ETCD_PID:-}"; do
		[ -n "$pid" ] || continue
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 1 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -9 "$pid" 2>/dev/null || true
	done
}

reachable() { # [kubeconfig]
	local args=(--request-timeout=5s)
	[ -n "${1:-}" ] && args+=(--kubeconfig "$1")
	timeout 10 "$KUBECTL" "${args[@]}" get --raw /readyz >/dev/null 2>&1
}

install_crds() { # kubeconfig...
	"$KUBECTL" "$@" apply --server-side --force-conflicts -f config/crd/bases >&2
	# Right after the apply the CRD may have no conditions yet, which
	# `kubectl wait` reports as an error: retry.
	for _ in $(seq 1 30); do
		"$KUBECTL" "$@" wait --for condition=established --timeout=5s crd/memoryservers.mcp.memory.dev >&2 2>/dev/null && return 0
		sleep 1
	done
	"$KUBECTL" "$@" wait --for condition=established --timeout=5s crd/memoryservers.mcp.memory.dev >&2
}

if [ -z "${RUN_OPERATOR_LOCAL:-}${CONTROL_PLANE_ONLY:-}" ] && reachable; then
	log "the current kubeconfig reaches $("$KUBECTL" config current-context 2>/dev/null || echo 'a cluster'): installing the CRDs and running the operator there"
	install_crds
	exec go run ./cmd/manager "${MANAGER_FLAGS[@]}" "$@"
fi

[ -n "$ASSETS" ] || ASSETS="$(hack/setup-envtest.sh)"
DIR="${CONTROL_PLANE_DIR:-$PWD/.cache/control-plane}"
KUBECONFIG_FILE="$DIR/kubeconfig"
ETCD_PORT="${ETCD_PORT:-23790}"
API_PORT="${API_PORT:-16443}"
mkdir -p "$DIR/certs" "$DIR/etcd"

if [ -f "$KUBECONFIG_FILE" ] && reachable "$KUBECONFIG_FILE"; then
	log "a local control plane is already running ($KUBECONFIG_FILE)"
else
	log "no cluster reachable: starting etcd and kube-apiserver under $DIR"
	if [ ! -f "$DIR/token" ]; then
		head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/token"
		chmod 600 "$DIR/token"
	fi
	TOKEN="$(cat "$DIR/token")"
	printf '%s,admin,admin,"system:masters"\n' "$TOKEN" >"$DIR/tokens.csv"
	chmod 600 "$DIR/tokens.csv"
	[ -f "$DIR/sa.key" ] || openssl genrsa -out "$DIR/sa.key" 2048 2>/dev/null

	# Both run in their own session, so that Ctrl-C reaches only this script
	# and the operator; the EXIT trap stops them in order (API server first).
	setsid "$ASSETS/etcd" --data-dir "$DIR/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
		--initial-cluster "default=http://127.0.0.1:$((ETCD_PORT + 1))" \
		--unsafe-no-fsync >"$DIR/etcd.log" 2>&1 &
	ETCD_PID=$!
	setsid "$ASSETS/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" --cert-dir "$DIR/certs" \
		--token-auth-file "$DIR/tokens.csv" --authorization-mode RBAC \
		--service-account-issuer https://kubernetes.default.svc --service-account-key-file "$DIR/sa.key" \
		--service-account-signing-key-file "$DIR/sa.key" --service-cluster-ip-range 10.0.0.0/24 \
		--endpoint-reconciler-type none --allow-privileged=true >"$DIR/kube-apiserver.log" 2>&1 &
	API_PID=$!
	trap stop_control_plane EXIT
	trap 'exit 130' INT TERM

	cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $DIR/certs/apiserver.crt
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: default}
current-context: local
users:
- name: admin
  user:
    token: $TOKEN
EOF
	chmod 600 "$KUBECONFIG_FILE"
	for _ in $(seq 1 60); do
		if reachable "$KUBECONFIG_FILE"; then break; fi
		kill -0 "$API_PID" 2>/dev/null || { tail -n 20 "$DIR/kube-apiserver.log" >&2; log "kube-apiserver exited"; exit 1; }
		sleep 1
	done
	reachable "$KUBECONFIG_FILE" || { tail -n 20 "$DIR/kube-apiserver.log" >&2; log "kube-apiserver did not become ready"; exit 1; }
	log "control plane ready"
fi

install_crds --kubeconfig "$KUBECONFIG_FILE"
log "point kubectl at it from another shell:"
echo "export KUBECONFIG=$KUBECONFIG_FILE"
[ "$KUBECTL" = "$ASSETS/kubectl" ] && echo "export PATH=$ASSETS:\$PATH  # for its kubectl"
if [ -n "${CONTROL_PLANE_ONLY:-}" ]; then
	log "control plane only: waiting until stopped"
	while kill -0 "${API_PID:-$$}" 2>/dev/null; do sleep 1; done
	exit 0
fi
go run ./cmd/manager --kubeconfig "$KUBECONFIG_FILE" "${MANAGER_FLAGS[@]}" "$@"
