# certdrop: see README.md. Every target works on a fresh machine with Go
# installed; everything else comes from the Go module proxy.
GO      ?= go
BIN     := dist/certdrop
PKGS    := ./...
# VERSION is what `certdrop --version` prints (main.version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# FC_TAGS builds the Function Compute package without the workstation-only
# commands (sim, gencert) and what they link: the emulator and the demo CA
# (functions/certdrop/workstation.go; TestFCPackageLinksNoEmulator).
FC_TAGS := fc

.PHONY: all build package deploy test bench demo fmt clean

all: build

# build: the command line people install, dist/certdrop. It is the
# workstation build: it has `sim` and `gencert`, so it links the emulator
# (shared/cloudsim, with its ACME CA, pebble) and the demo CA: about 15%
# larger than the same build without them. That is fine on a workstation
# or in CI; the Function Compute package below leaves them out.
build:
	$(GO) build -trimpath -ldflags='$(LDFLAGS)' -o $(BIN) ./functions/certdrop

# test: formatting, vet (the Function Compute build too), then the race-enabled
# tests (fuzz seeds included).
test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags $(FC_TAGS) ./functions/certdrop
	$(GO) test -race -count=1 $(PKGS)

# package: the Function Compute code package, a static linux/amd64 binary
# without the emulator (no `sim`, no `gencert`).
package:
	mkdir -p dist/fc
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -tags $(FC_TAGS) -trimpath -ldflags='-s -w $(LDFLAGS)' -o dist/fc/bootstrap ./functions/certdrop

deploy: package
	s deploy -y

# bench: the micro-benchmarks and the renewal of 100 certificates whose
# records take 10 s to appear (about 30 s), then the fleet runs against the
# emulator at production quotas (about seven minutes): 1,000 targets clean, then 300 and
# 1,000 targets under 30% throttling and 2% 5xx, with and without
# retry-after hints, BENCH_RUNS times each (3 by default, each with its own
# fault seed), printing every run and reporting the worst as a ratio to the
# fault-adjusted floor; and several accounts at once through STS (3 × 300
# CDN targets, 10 × 1,000 targets with the peak memory).
BENCH_RUNS ?= 3
bench:
	$(GO) test -run '^$$' -bench . -benchmem -skip Fleet $(PKGS)
	BENCH_RUNS=$(BENCH_RUNS) $(GO) test -run '^$$' -bench Fleet -benchtime 1x -timeout 30m ./shared/fanout

demo: build
	./scripts/demo.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf dist
