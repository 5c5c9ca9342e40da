# xlb — build, test, benchmark and demo. Run as root on Debian 12 (kernel with
# BPF, BTF and native XDP on veth); `make deps` installs the tools it needs.

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go

# Debian packages the build, the tests and the demo need: the BPF toolchain
# pinned to clang-14 (bpf2go output is reproducible only with one compiler),
# gcc-multilib for asm/types.h, and the lab's network tools.
DEB_PACKAGES := clang-14 llvm-14 libbpf-dev bpftool gcc-multilib iproute2 ethtool \
	tcpdump iputils-arping keepalived git util-linux

BINARIES := bin/xlbd bin/xlbctl bin/xlblab

.PHONY: all build generate check-generated test bench fuzz demo deps clean

all: build

build:
	$(GO) build -o bin/ ./cmd/xlbd ./cmd/xlbctl ./e2e/cmd/xlblab

# deps installs only what is missing, so it is cheap to run every time.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "deps: run as root to install:$$missing" >&2; exit 1; fi; \
		echo "deps: installing$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	@$(GO) version >/dev/null || { echo "deps: Go 1.26 is needed (/usr/local/go)" >&2; exit 1; }
	$(GO) mod download

# generate rebuilds the BPF objects and their Go bindings with bpf2go.
generate:
	$(GO) generate ./bpf/...

# check-generated fails when the committed bpf2go output is not what the
# committed C sources produce.
check-generated: generate
	@git diff --exit-code --stat -- bpf/ || { echo "bpf2go output differs from the committed files: run make generate and commit" >&2; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- bpf/); \
	if [ -n "$$untracked" ]; then echo "generated files not committed: $$untracked" >&2; exit 1; fi

test: deps check-generated
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./maps/ ./controlplane/maglev/ ./controlplane/sched/ ./config/ ./health/ ./vrrp/packet/ ./e2e/rate/
	# VRRP failover as a client sees it, xlbd against keepalived (about 5 minutes)
	$(GO) test -run '^$$' -bench BenchmarkFailover -benchtime 5x -timeout 20m ./e2e/failover/

# fuzz runs every fuzz target for FUZZTIME each (24 targets: about 12
# minutes at the default 30s). The seed corpora already run in `make test`.
# Minimizing an interesting input is bounded: the BPF targets run each
# input in a network namespace, and an unbounded minimization took a
# worker for the whole run (its progress line stopped counting).
FUZZTIME ?= 30s
fuzz: deps
	@set -e; for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for fn in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== $$pkg $$fn"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 3s $$pkg; \
		done; \
	done

demo: deps build
	./bin/xlblab demo --xlbd bin/xlbd --xlbctl bin/xlbctl --config testdata/demo/keepalived.conf

clean:
	rm -rf bin/
