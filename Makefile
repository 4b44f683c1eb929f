# memory-operator Makefile. `make help` lists the targets.

IMG ?= ghcr.io/memory-operator/memory-operator:dev
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SERVER_IMG ?= $(IMG)
CONTAINER_TOOL ?= docker
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
ENVTEST_K8S_VERSION ?= 1.37.0
GO_TEST_FLAGS ?= -count=1 -timeout 40m
FUZZTIME ?= 10s

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify-third-party
verify-third-party: ## Check that third_party/ is its pristine modules plus their patches, and test the patched packages.
	hack/third-party.sh verify

.PHONY: test
test: manifests generate fmt vet verify-third-party ## Run every test: unit, envtest, PostgreSQL, SQLite, end-to-end and brief fuzzing.
	@assets="$$(ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) hack/setup-envtest.sh)"; \
	dsn="$$(hack/test-postgres.sh)"; \
	echo "envtest assets: $$assets"; \
	KUBEBUILDER_ASSETS="$$assets" MEMORY_SERVER_TEST_POSTGRES_DSN="$$dsn" go test $(GO_TEST_FLAGS) ./...
	@dsn="$$(hack/test-postgres.sh)"; MEMORY_SERVER_TEST_POSTGRES_DSN="$$dsn" FUZZTIME=$(FUZZTIME) hack/fuzz.sh

.PHONY: test-unit
test-unit: ## Run only the tests that need neither envtest nor PostgreSQL.
	go test -short $(GO_TEST_FLAGS) ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each.
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

.PHONY: bench
bench: ## Run the Go benchmarks (see docs/benchmarks.md).
	@assets="$$(hack/setup-envtest.sh)"; dsn="$$(hack/test-postgres.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" MEMORY_SERVER_TEST_POSTGRES_DSN="$$dsn" go test -run='^$$' -bench=. -benchmem ./...

.PHONY: bench-operator
bench-operator: ## Time the operator binary on 200 MemoryServers created at once (local control plane; N, STEADY).
	hack/bench-operator.sh

.PHONY: load
load: ## memory-server load test, SQLite and PostgreSQL, 32 clients (docs/benchmarks.md)
	go build -o $(LOCALBIN)/memory-server ./cmd/memory-server
	go build -o $(LOCALBIN)/loadgen ./hack/loadgen
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; $(LOCALBIN)/loadgen --server-bin $(LOCALBIN)/memory-server --clients 32 --duration 20s --seed 10000 -- --sqlite-path "$$tmp/load.db"
	@dsn="$$(hack/test-postgres.sh)"; $(LOCALBIN)/loadgen --server-bin $(LOCALBIN)/memory-server --clients 32 --duration 20s --seed 10000 --postgres-admin-dsn "$$dsn"

.PHONY: setup-envtest
setup-envtest: ## Make envtest's kube-apiserver, etcd and kubectl available (builds them once if needed).
	@hack/setup-envtest.sh

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager and memory-server binaries into bin/.
	go build -o $(LOCALBIN)/manager ./cmd/manager
	go build -o $(LOCALBIN)/memory-server ./cmd/memory-server

.PHONY: run
run: manifests generate ## Run the operator against the current cluster, or a local control plane when none answers.
	hack/run-operator.sh

.PHONY: run-server
run-server: ## Run the memory server on SQLite (./memory.db) at http://localhost:8080/mcp.
	go run ./cmd/memory-server

.PHONY: docker-build
docker-build: ## Build the image holding both binaries.
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the image.
	$(CONTAINER_TOOL) push $(IMG)

##@ Deployment

KUBECTL ?= kubectl

.PHONY: install
install: manifests ## Install the CRDs into the current cluster.
	$(KUBECTL) apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: manifests ## Remove the CRDs from the current cluster.
	$(KUBECTL) delete --ignore-not-found -f config/crd/bases

.PHONY: deploy
deploy: manifests ## Deploy the operator into the current cluster (image IMG).
	cd config/manager && $(KUBECTL) kustomize . >/dev/null
	$(KUBECTL) kustomize config/default | sed "s#controller:latest#$(IMG)#g" | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator from the current cluster.
	$(KUBECTL) kustomize config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
