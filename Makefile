# Catga: the two commands that matter are `make run` and `make test`; both set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODES ?= 3
SEEDS ?= 200
# Every compiled *.test.js below these folders is part of `make test`, and so is every example
# application's test (TypeScript that Node runs as it is; the build type-checks it).
TEST_DIRS := node/dist/test operator/dist/test e2e/dist
EXAMPLES := $(patsubst %/tsconfig.json,%,$(wildcard examples/*/tsconfig.json))
# The pinned Node.js (.node-version) that scripts/setup.sh installs into .cache/node when the
# machine's is older comes first on PATH for every recipe (npm, npx and the tests included).
export PATH := $(CURDIR)/.cache/node/bin:$(PATH)
test_files = $(shell find $(TEST_DIRS) -name '*.test.js' 2>/dev/null | sort) $(wildcard $(EXAMPLES:%=%/test/*.test.ts))

.PHONY: help setup build run test test-unit test-operator tools images e2e-local e2e-k8s e2e-kind bench soak sim clean lint

help:
	@echo "make run         local $(NODES)-node cluster with the built-in handlers (catga dev)"
	@echo "make test        every test: lint, unit, simulation, integration, operator, e2e-local, e2e-k8s, examples"
	@echo "make build       compile the TypeScript workspaces"
	@echo "make tools       build helm, etcd, CoreDNS, Prometheus, the Kubernetes binaries, porcupine checker into bin/"
	@echo "make e2e-local   fault-injection scenarios on network namespaces, checked by Porcupine"
	@echo "make e2e-k8s     helm install + kubectl on a single-node Kubernetes run here (kubelet, containerd)"
	@echo "make e2e-kind    the same behaviour on a kind cluster (needs Docker and kind)"
	@echo "make bench       benchmarks side by side with etcd"
	@echo "make images      both container images from the Dockerfiles (docker, else buildah)"

setup:
	@bash scripts/setup.sh

build: setup
	@npx tsc -p node && npx tsc -p operator && npx tsc -p e2e && for e in $(EXAMPLES); do npx tsc -p $$e || exit 1; done

run: build
	node node/dist/src/cli/main.js dev --nodes $(NODES)

sim: build
	node node/dist/src/cli/main.js sim --seeds $(SEEDS)

tools: setup
	@bash scripts/tools.sh

test: build tools
	@CATGA_SIM_SEEDS=$(SEEDS) node --test --test-concurrency=1 $(test_files)

test-unit: build
	@node --test $(shell find node/dist/test/unit -name '*.test.js' | sort)

test-operator: build tools
	@node --test --test-concurrency=1 $(shell find operator/dist/test -name '*.test.js' | sort)

e2e-local: build tools
	@node --test --test-concurrency=1 $(shell find e2e/dist -name "*.test.js" -not -name k8s.test.js | sort)

soak: build tools
	@CATGA_SOAK_SECONDS=1800 node e2e/dist/local/soak.js

e2e-k8s: build tools
	@bash e2e/k8s/run.sh

e2e-kind:
	@bash e2e/kind/run.sh

bench: build
	node node/dist/src/cli/main.js bench $(BENCH_ARGS)

images: setup
	@bash scripts/images.sh

lint: setup
	npx biome lint --error-on-warnings
	shellcheck -x scripts/*.sh .ci/run e2e/kind/*.sh e2e/k8s/*.sh

clean:
	rm -rf node/dist operator/dist e2e/dist
