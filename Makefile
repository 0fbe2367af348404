# sitestat — make targets. `make test` is the test command CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO ?= go
BIN := bin/sitestat
SERVICES := scripts/services
# The packages with tests that restart services or kill processes.
SERIAL_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^//go:build serial' .)))

.PHONY: all build test test-unit test-serial vet services-up services-down test-tools demo bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) .

vet:
	$(GO) vet ./...
	$(GO) vet -tags serial ./...

# test: start the real services, then vet, the race-enabled suite (integration
# tests included) and, as a separate serial step, the tests that restart
# shared services or kill processes.
test: services-up test-tools
	eval "$$($(SERVICES) env test)"; \
	$(MAKE) --no-print-directory vet && \
	$(GO) test -race -count=1 -timeout 15m ./... && \
	$(GO) test -tags serial -p 1 -count=1 -v -timeout 20m -run '^TestSerial' $(SERIAL_PKGS)

services-up:
	$(SERVICES) up

# test-tools: promtool (from Debian's prometheus package; on a host with
# systemd the package also enables a Prometheus server) checks
# docs/prometheus-rules.yml in the tests.
test-tools:
	command -v promtool >/dev/null || { \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

services-down:
	$(SERVICES) down

demo:
	scripts/demo

bench:
	scripts/bench all

clean:
	rm -rf bin
