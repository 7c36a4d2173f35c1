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

.PHONY: test
test: ## Run every test: units, store suites on SQLite and PostgreSQL, workflows, end to end.
	go test -count=1 work

.PHONY: build
build: ## Build bin/kinship, a static binary.
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/kinship ./cmd/kinship

.PHONY: generate
generate: ## Regenerate gen/ from proto/ with buf and the pinned plugins.
	cd proto && $(TOOL) buf lint && $(TOOL) buf generate

.PHONY: lint
lint: ## gofmt, go vet, staticcheck, workflowcheck, buf lint.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet work
	$(TOOL) staticcheck ./...
	$(TOOL) workflowcheck ./workflows/...
	cd proto && $(TOOL) buf lint

.PHONY: vuln
vuln: ## Check dependencies for known vulnerabilities.
	$(TOOL) govulncheck ./...

.PHONY: bench
bench: ## Run the benchmarks (join, 100k import, segment counts) and record them in docs/benchmarks.md.
	go run ./cmd/kinship bench all -out docs/benchmarks.md

.PHONY: check-generated
check-generated: generate ## Fail when gen/ differs from what proto/ generates.
	@git diff --exit-code -- gen/ || (echo "gen/ is stale: run make generate and commit" && exit 1)
	@test -z "$$(git status --porcelain -- gen/)" || (git status --porcelain -- gen/ && echo "untracked generated files" && exit 1)
