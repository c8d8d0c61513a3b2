# skiff's everyday commands. The test command here is the one README.md and .ci/run use.

GO ?= go

# skiff's version, and the Kubernetes release whose libraries are built in (k8s.io/client-go
# v0.X.Y is Kubernetes v1.X.Y), stamped so that `skiff kubectl version` reports it.
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
KUBE_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/client-go | sed 's/^v0\./v1./')
KUBE_MINOR   := $(word 2,$(subst ., ,$(KUBE_VERSION)))
LDFLAGS := -X main.version=$(VERSION) \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=$(KUBE_MINOR)

.PHONY: build run test bench conformance

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/skiff ./cmd/skiff

run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/skiff server --data-dir ./.skiff

test:
	bash test/setup.sh && $(GO) test -v ./... -timeout 20m

bench:
	$(GO) test -run '^$$' -bench . ./internal/...

# Kubernetes' own conformance specs against a fresh server, one per SIG group (not part of
# `test`: a run takes an hour or more). GROUPS narrows it, e.g. `make conformance GROUPS=sig-cli`.
GROUPS ?= sig-api-machinery sig-cli sig-apps
conformance:
	test/conformance/run $(GROUPS)
