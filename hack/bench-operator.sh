#!/usr/bin/env bash
# bench-operator.sh: the operator binary against a local control plane
# (hack/run-operator.sh's, from the envtest binaries): create N MemoryServers
# at once with one `kubectl apply`, time until every one has its Deployment
# and a written status, then count reconciles and child writes over STEADY
# seconds of steady state (from the operator's /metrics), and report the
# operator process's peak RSS (VmHWM).
#
#   N=200 STEADY=30 hack/bench-operator.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N="${N:-200}"
STEADY="${STEADY:-30}"
NS="${BENCH_NAMESPACE:-bench-$(date +%s)}"
METRICS_PORT="${BENCH_METRICS_PORT:-18085}"
ASSETS="$(hack/setup-envtest.sh)"
KUBECTL="$ASSETS/kubectl"
WORK="$(mktemp -d)"
log() { echo "bench-operator: $*" >&2; }

go build -o "$WORK/manager" ./cmd/manager

# A throwaway control plane of its own (not make run's, whose etcd persists).
export CONTROL_PLANE_DIR="$WORK/control-plane" API_PORT="${BENCH_API_PORT:-16543}" ETCD_PORT="${BENCH_ETCD_PORT:-23890}"
CONTROL_PLANE_ONLY=1 setsid hack/run-operator.sh >"$WORK/control-plane.out" 2>"$WORK/control-plane.err" &
CP_PID=$!
MGR_PID=""
cleanup() {
	[ -n "$MGR_PID" ] && kill "$MGR_PID" 2>/dev/null && wait "$MGR_PID" 2>/dev/null || true
	kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

export KUBECONFIG="$CONTROL_PLANE_DIR/kubeconfig"
for _ in $(seq 1 120); do
	grep -q '^export KUBECONFIG=' "$WORK/control-plane.out" 2>/dev/null && break
	kill -0 "$CP_PID" 2>/dev/null || { cat "$WORK/control-plane.err" >&2; exit 1; }
	sleep 1
done
"$KUBECTL" get --raw /readyz >/dev/null

"$WORK/manager" --kubeconfig "$KUBECONFIG" --metrics-bind-address "127.0.0.1:$METRICS_PORT" --metrics-secure=false \
	--health-probe-bind-address 0 --memory-server-image example.test/memory-server:bench >"$WORK/manager.log" 2>&1 &
MGR_PID=$!

metric() { # name [label filter] -> sum of the counter's samples
	curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" |
		awk -v name="$1" -v filter="${2:-}" '($1 == name || index($1, name "{") == 1) && index($1, filter) { s += $2 } END { printf "%d\n", s }'
}
for _ in $(seq 1 60); do metric controller_runtime_reconcile_total >/dev/null 2>&1 && break; sleep 0.5; done

"$KUBECTL" create namespace "$NS" >/dev/null
{
	cat <<EOF
apiVersion: v1
kind: Secret
metadata: {name: pg, namespace: $NS}
stringData: {dsn: "postgres://u:p@db:5432/m"}
EOF
	for i in $(seq 1 "$N"); do
		if [ $((i % 2)) -eq 0 ]; then
			printf -- '---\napiVersion: mcp.memory.dev/v1alpha1\nkind: MemoryServer\nmetadata: {name: ms-%03d, namespace: %s}\nspec: {backend: {type: sqlite}}\n' "$i" "$NS"
		else
			printf -- '---\napiVersion: mcp.memory.dev/v1alpha1\nkind: MemoryServer\nmetadata: {name: ms-%03d, namespace: %s}\nspec: {replicas: 3, backend: {type: postgres, postgres: {external: {dsnSecretRef: {name: pg, key: dsn}}}}}\n' "$i" "$NS"
		fi
	done
} >"$WORK/fleet.yaml"

before="$(metric controller_runtime_reconcile_total 'controller="memoryserver"')"
start=$(date +%s.%N)
"$KUBECTL" apply -f "$WORK/fleet.yaml" >/dev/null
created=$(date +%s.%N)
while [ "$("$KUBECTL" get deployments -n "$NS" --no-headers 2>/dev/null | wc -l)" -lt "$N" ]; do sleep 0.2; done
deployments=$(date +%s.%N)
jsonpath='{range .items[*]}{.status.observedGeneration}{"/"}{.metadata.generation}{" "}{end}'
while :; do
	done_count=$("$KUBECTL" get memsrv -n "$NS" -o jsonpath="$jsonpath" | tr ' ' '\n' | awk -F/ '$1 != "" && $1 == $2' | wc -l)
	[ "$done_count" -ge "$N" ] && break
	sleep 0.2
done
statuses=$(date +%s.%N)
sleep 2
settled="$(metric controller_runtime_reconcile_total 'controller="memoryserver"')"
writes_settled="$(metric memory_operator_child_writes_total)"
sleep "$STEADY"
steady="$(metric controller_runtime_reconcile_total 'controller="memoryserver"')"
writes_steady="$(metric memory_operator_child_writes_total)"
rss_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$MGR_PID/status")

awk -v s="$start" -v c="$created" -v d="$deployments" -v st="$statuses" -v n="$N" \
	-v b="$before" -v se="$settled" -v ss="$steady" -v ws="$writes_settled" -v wss="$writes_steady" \
	-v rss="$rss_kb" -v steady_s="$STEADY" 'BEGIN {
	printf "MemoryServers:                       %d\n", n
	printf "kubectl apply of all of them:        %.1f s\n", c - s
	printf "until all Deployments exist:         %.1f s\n", d - s
	printf "until all statuses are written:      %.1f s\n", st - s
	printf "reconciles per object to settle:     %.2f\n", (se - b) / n
	printf "reconciles in %d s of steady state:  %d (%.3f per object)\n", steady_s, ss - se, (ss - se) / n
	printf "child writes in steady state:        %d\n", wss - ws
	printf "operator peak RSS (VmHWM):           %.0f MiB\n", rss / 1024
}'
