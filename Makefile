# Köpir — build, run, test, benchmark. Two commands on a fresh machine:
#   make run    start the bus with embedded defaults plus the mock agencies
#   make test   run every test (PostgreSQL, Redis and NATS tests use the local servers)
GO       ?= go
GOFMT    ?= $(shell $(GO) env GOROOT)/bin/gofmt
BIN      := bin/kopir
MOCKS    := bin/kopir-mocks
CONFIG   ?= deploy/local.yaml
PKGS     := ./...
# Each fuzz target gets a short bounded run in every `make test`.
FUZZTIME_CI ?= 4s

.PHONY: all build deps browser run test test-short bench bench-quick fuzz generate vet fmt clean services chaos

# internal/xsd validates ISO 20022 and SOAP documents with libxml2, and
# internal/libcrypto makes RSA signatures with OpenSSL (both cgo).
export CGO_ENABLED := 1

all: build

# grpcnotrace: gRPC (which the OTLP exporter's packages import) then does
# not link golang.org/x/net/trace, whose debug pages use html/template and
# so keep every method of every type in the executable (docs/performance.md).
TAGS     := grpcnotrace

build: deps
	$(GO) build -trimpath -tags $(TAGS) -o $(BIN) ./cmd/kopir
	$(GO) build -trimpath -o $(MOCKS) ./cmd/kopir-mocks

run: build
	@deploy/run-local.sh $(CONFIG)

# Tests run one package at a time: the machine has two cores and several
# packages start servers of their own.
test: fmt build services browser
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -p 1 -timeout 20m $(PKGS)
	@deploy/fuzz.sh $(FUZZTIME_CI)

# Every tracked Go file, the generated ones too (their generator writes them
# gofmt-clean), so an unformatted file fails make test, and so CI.
fmt:
	@files=$$(git ls-files '*.go') || exit 1; \
	bad=$$($(GOFMT) -l $$files) || exit 1; \
	if [ -n "$$bad" ]; then echo "gofmt -w these files:"; echo "$$bad"; exit 1; fi

test-short:
	$(GO) test -count=1 -short $(PKGS)

services:
	@deploy/services.sh

deps:
	@deploy/deps.sh

# The console's tests drive Debian's Chromium (cmd/kopir/e2e_console_test.go).
browser:
	@deploy/browser-deps.sh

# The cluster's chaos test at full size (docs/operations.md#cluster); make
# test runs it with 600 messages.
CHAOS_MESSAGES ?= 10000
chaos: build services
	CI=true KOPIR_CHAOS_MESSAGES=$(CHAOS_MESSAGES) KOPIR_CHAOS_REPORT=$(CURDIR)/bin/chaos.txt \
		$(GO) test -count=1 -run '^TestChaos$$' -timeout 60m -v ./cmd/kopir

bench: build services
	@deploy/bench.sh

# The same table as make bench from shorter runs (under two minutes), for
# development; docs/performance.md is left as it is.
bench-quick: build services
	@BENCH_QUICK=1 deploy/bench.sh

fuzz:
	@deploy/fuzz.sh 60s

generate:
	$(GO) generate ./...

vet:
	$(GO) vet $(PKGS)

clean:
	rm -rf bin data
