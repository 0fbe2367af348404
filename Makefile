# sitestat — make targets. `make test` is the test command CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO ?= go
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(shell $(GO) env GOPATH)/bin/golangci-lint
BIN := bin/sitestat
SERVICES := scripts/services
# The packages with tests that restart services or kill processes.
SERIAL_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^//go:build serial' .)))

.PHONY: all build generate test check test-unit test-serial vet services-up services-down test-tools demo bench screenshots clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) .

# generate: rewrite schema/expected_gen.go from schema.sql (schema/gen applies
# it to a scratch database of the test PostgreSQL and reads the catalog).
# Run it after changing schema.sql and commit the result; a test fails while
# the committed file differs.
generate: services-up
	eval "$$($(SERVICES) env test)"; $(GO) generate ./schema/

vet:
	$(GO) vet ./...
	$(GO) vet -tags serial ./...

# lint: golangci-lint (.golangci.yml: errcheck, govet, staticcheck, revive's
# exported-comment rule, funlen at 100 lines), installed at the pinned
# version with go install when missing or different.
lint:
	@if ! $(GOLANGCI_LINT) version 2>/dev/null | grep -q "version $(GOLANGCI_LINT_VERSION:v%=%) "; then \
		echo "installing golangci-lint $(GOLANGCI_LINT_VERSION)"; \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi
	$(GOLANGCI_LINT) run ./...

# test: start the real services, vet, then two steps:
#  1. the race-enabled suite (unit and integration tests) and, beside it, the
#     end-to-end tests that only start and kill their own processes (and the
#     three-broker cluster's brokers): each writes to its own log, printed
#     when both are done;
#  2. alone, the tests that restart the shared PostgreSQL or broker, named
#     TestSerialRestart… (they would break whatever runs beside them).
test: services-up test-tools
	eval "$$($(SERVICES) env test)"; \
	$(MAKE) --no-print-directory vet lint; \
	logs=$$(mktemp -d); failed=0; \
	$(GO) test -race -count=1 -timeout 15m ./... >"$$logs/unit" 2>&1 & unit=$$!; \
	$(GO) test -tags serial -p 1 -count=1 -v -timeout 20m -run '^TestSerial' -skip '^TestSerialRestart' \
		$(SERIAL_PKGS) >"$$logs/e2e" 2>&1 & e2e=$$!; \
	wait $$unit || failed=1; cat "$$logs/unit"; \
	wait $$e2e || failed=1; cat "$$logs/e2e"; \
	rm -rf "$$logs"; \
	if (( failed )); then echo "make test: step 1 failed (see above)" >&2; exit 1; fi; \
	$(GO) test -tags serial -p 1 -count=1 -v -timeout 20m -run '^TestSerialRestart' $(SERIAL_PKGS)

# check: the unit tests that need no service (integration tests skip without
# their SITESTAT_TEST_* variables), for the inner loop; under a minute.
check:
	env -u CI $$(env | sed -n 's/^\(SITESTAT_TEST_[A-Z_]*\)=.*/-u \1/p') $(GO) test -count=1 ./...

# services-up: PostgreSQL, the single broker every test uses, and the
# three-broker cluster (own ports and state) of the broker-restart e2e test.
services-up:
	$(SERVICES) up --brokers 3

# test-tools: promtool (from Debian's prometheus package; on a host with
# systemd the package also enables a Prometheus server) checks
# docs/prometheus-rules.yml in the tests; headless Chromium (Debian's
# chromium package) drives the status page in web's browser test.
test-tools:
	missing=(); \
	command -v promtool >/dev/null || missing+=(prometheus); \
	command -v chromium >/dev/null || missing+=(chromium fonts-dejavu-core); \
	if (( $${#missing[@]} )); then \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$${missing[@]}" >/dev/null; \
	fi

services-down:
	$(SERVICES) down

demo:
	scripts/demo

bench:
	scripts/bench all

# screenshots: regenerate docs/overview.png, docs/site.png,
# docs/overview-dark.png and their 360-px versions (docs/overview-360.png,
# docs/site-360.png, docs/overview-360-dark.png) with headless Chromium
# (the browser test's websites), for the README.
screenshots: services-up test-tools
	eval "$$($(SERVICES) env test)"; \
	SITESTAT_SCREENSHOT_DIR=$(CURDIR)/docs $(GO) test -count=1 -v -run '^TestBrowser$$' ./web | grep -E 'screenshot|^(ok|FAIL|---)'

clean:
	rm -rf bin
