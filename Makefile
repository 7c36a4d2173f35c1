# Kinship — `make help` lists the targets.
#
# The Temporal server needs Go 1.26.10 or newer; the go command fetches this
# toolchain from the module proxy once (about 76 MB).
export GOTOOLCHAIN := go1.27.3

# Tools are pinned as tool directives in tools/go.mod, apart from the
# platform's module so their dependencies never move the platform's.
TOOL := GOWORK=off go tool -modfile=$(CURDIR)/tools/go.mod
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this list.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run the whole platform here (embedded Temporal, Kafka, mail sink), demo community seeded.
	go run ./cmd/kinship dev

# envtest's kube-apiserver and etcd, built from the Go module proxy once and
# cached under ~/.cache/kinship/envtest (operator/hack/envtest-assets.sh).
ENVTEST_ASSETS = $(shell $(CURDIR)/operator/hack/envtest-assets.sh)

.PHONY: envtest-assets
envtest-assets: ## Build envtest's kube-apiserver and etcd into ~/.cache/kinship/envtest (once; ~1000 CPU-s cold).
	@operator/hack/envtest-assets.sh >/dev/null

# The image test builds the whole static binary, which on a cold cache
# takes longer than go test's default 10 minutes; hence -timeout 30m.
.PHONY: test
test: envtest-assets ## Run every test: units, store suites on SQLite and PostgreSQL, workflows, operator on envtest, end to end, the short chaos run, a short fuzz run.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -count=1 -timeout 30m work
	$(MAKE) chaos-short
	FUZZTIME=$(FUZZTIME_SHORT) test/fuzz.sh

# Each fuzz target runs this long inside `make test`; `make fuzz` runs longer.
FUZZTIME_SHORT ?= 5s
FUZZTIME ?= 2m

.PHONY: fuzz
fuzz: ## Fuzz every decoder of untrusted input for FUZZTIME each (default 2m; `make fuzz FUZZTIME=30m`).
	FUZZTIME=$(FUZZTIME) test/fuzz.sh

.PHONY: chaos-short
chaos-short: ## Chaos harness, short (part of make test): 600 operations and 6 faults including a broker outage, with the same accounting (2-3 minutes).
	KINSHIP_CHAOS=1 go test -count=1 -timeout 15m -run TestChaos ./test/chaos/

.PHONY: chaos
chaos: ## Chaos harness: 10,000 operations and 24 faults on the multi-process topology (test/chaos; KINSHIP_CHAOS_SEED, KINSHIP_CHAOS_DIR keeps the logs).
	KINSHIP_CHAOS=1 KINSHIP_CHAOS_OPS=$${KINSHIP_CHAOS_OPS:-10000} KINSHIP_CHAOS_FAULTS=$${KINSHIP_CHAOS_FAULTS:-24} \
		go test -count=1 -v -timeout 60m -run TestChaos ./test/chaos/

# --- Web console (console/): its npm files are pinned in console/package-lock.json
# and committed under console/assets/vendor, so a build needs only Go. ---

.PHONY: console-assets
console-assets: ## Refresh the console's vendored htmx, Chart.js and axe-core from npm (npm ci with console/package-lock.json).
	console/vendor.sh

.PHONY: check-console-assets
check-console-assets: ## Fail when the committed console assets differ from what console/package-lock.json gives.
	console/vendor.sh check

.PHONY: screenshots
screenshots: ## Run the browser tests and refresh the screenshots in docs/console.
	KINSHIP_TEST_BROWSER=require KINSHIP_SCREENSHOTS=$(CURDIR)/docs/console go test -count=1 ./console/browsertest/...

.PHONY: test-browser
test-browser: ## Run the console's browser tests (headless Chromium through the dev stack; apt-get install chromium).
	KINSHIP_TEST_BROWSER=require go test -count=1 ./console/browsertest/...

.PHONY: build
build: ## Build bin/kinship, a static binary.
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/kinship ./cmd/kinship

.PHONY: generate
generate: ## Regenerate gen/ from proto/ (Go, the OpenAPI documents, the TypeScript client), and the operator's deepcopy, CRD and RBAC.
	cd proto && $(TOOL) buf lint && $(TOOL) buf generate
	$(MAKE) generate-ts
	$(MAKE) -C operator generate

.PHONY: generate-ts
generate-ts: ## Regenerate the typed TypeScript client in gen/ts (protoc-gen-es pinned by tools/typescript/package-lock.json).
	cd tools/typescript && npm ci --no-audit --no-fund --silent
	rm -rf gen/ts
	cd proto && $(TOOL) buf generate --template buf.gen.ts.yaml
	tools/typescript/node_modules/.bin/tsc -p tools/typescript/tsconfig.json

.PHONY: lint
lint: ## gofmt, go vet, staticcheck, workflowcheck, buf lint.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/' | grep -v '^operator/tools/')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet work
	$(TOOL) staticcheck ./...
	cd operator && $(TOOL) staticcheck ./...
	$(TOOL) workflowcheck ./workflows/...
	cd proto && $(TOOL) buf lint

.PHONY: vuln
vuln: ## Check dependencies for known vulnerabilities.
	$(TOOL) govulncheck ./...

.PHONY: bench
bench: envtest-assets ## Run every benchmark and record the results in docs/benchmarks.md.
	go run ./cmd/kinship bench all -out docs/benchmarks.md
	@mkdir -p dist && $(MAKE) -s -C operator bench > dist/operator-bench.txt 2>&1 || (cat dist/operator-bench.txt; exit 1)
	go run ./cmd/kinship bench record -name operator -title "100 Communities to Ready on envtest" \
	  -command "make -C operator bench" -out docs/benchmarks.md \
	  -note "Target: 100 Communities Ready in < 60 s; 0 reconciles per minute when idle. A real kube-apiserver and etcd (envtest); Kafka, Temporal and PostgreSQL are in-memory fakes, and a stand-in marks Deployments ready as envtest runs no controller-manager." \
	  < dist/operator-bench.txt
	$(MAKE) bench-scaleout

.PHONY: bench-scaleout
bench-scaleout: ## Joins and welcome e-mails with 1, 2 and 3 replicas of everything on PostgreSQL (test/chaos), recorded in docs/benchmarks.md.
	@mkdir -p dist
	KINSHIP_SCALEOUT=1 KINSHIP_SCALEOUT_OUT=$(CURDIR)/dist/scaleout.md go test -count=1 -v -timeout 60m -run TestScaleOut ./test/chaos/
	go run ./cmd/kinship bench record -name scaleout -title "Scale-out: 1, 2 and 3 replicas on PostgreSQL" \
	  -command "make bench-scaleout" -out docs/benchmarks.md \
	  -note "Every service and the worker run as 1, 2 or 3 processes each (kinship <component>, as in production), all on one PostgreSQL server, with the broker and the Temporal server as processes of their own (test/chaos's topology, no faults). 16 clients join members through the members replicas in turn (platform admin token, so each journey welcomes at once); the sending limit is lifted. Checked in every run: each member got exactly one welcome (one Message-ID, one copy) and has exactly one MemberJoined on the topic, whichever replica took the join, relayed it, started the journey or sent the e-mail." \
	  < dist/scaleout.md

.PHONY: check-generated
check-generated: generate ## Fail when gen/ (Go, OpenAPI, TypeScript) differs from what proto/ generates.
	@git diff --exit-code -- gen/ || (echo "gen/ is stale: run make generate and commit" && exit 1)
	@test -z "$$(git status --porcelain -- gen/)" || (git status --porcelain -- gen/ && echo "untracked generated files" && exit 1)
	@git diff --exit-code -- operator/api operator/config || (echo "operator: generated files are stale: run make generate" && exit 1)

.PHONY: bench-operator
bench-operator: ## Time 100 Communities to Ready on envtest; idle reconciles per minute.
	$(MAKE) -C operator bench

# --- Helm chart and images (charts/kinship, build/images, skaffold.yaml) ---

# The Kubernetes version charts are linted and rendered for: envtest's.
CHART_KUBE_VERSION := 1.37.2
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
# The images' creation time is the commit's, so a rebuild of one commit
# gives the same images.
CREATED ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo 1970-01-01T00:00:00Z)

.PHONY: chart-crds
chart-crds: ## Copy the operator's generated CRDs into charts/kinship/crds (never edit them there).
	rm -f charts/kinship/crds/*.yaml
	cp operator/config/crd/bases/*.yaml charts/kinship/crds/

.PHONY: chart-lint
chart-lint: ## helm lint --strict the chart with its default and its full example values.
	$(TOOL) helm lint --strict --kube-version $(CHART_KUBE_VERSION) charts/kinship
	$(TOOL) helm lint --strict --kube-version $(CHART_KUBE_VERSION) charts/kinship --values charts/kinship/ci/full-values.yaml

.PHONY: images
images: ## Build the kinship and kinship-operator images into dist/images (OCI layouts and tarballs; no Docker).
	cd build && GOWORK=off go run ./images -root $(CURDIR) -out $(CURDIR)/dist/images \
	  -version $(VERSION) -revision "$(REVISION)" -created $(CREATED)

.PHONY: lint-build
lint-build: ## gofmt, go vet and staticcheck of build/ (a module of its own, outside go.work).
	@unformatted=$$(gofmt -l build); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	cd build && GOWORK=off go vet ./...
	cd build && $(TOOL) staticcheck ./...
