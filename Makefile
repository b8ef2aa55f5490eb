# affonso-relay — developer entry points. See README.md.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
TOOLS := $(ROOT)/.tools
# Run-time librdkafka 2.16 from the confluent-kafka wheel (Debian's 2.0.2 cannot talk to Tansu).
RUNTIME_ENV := LD_LIBRARY_PATH=$(TOOLS)/lib
SWIFT_BUILD_FLAGS ?=

.PHONY: help setup build lint lint-deploy test demo bench stack-up stack-down

help:
	@echo "make demo   install what is missing, start the embedded stack, run the demo"
	@echo "make test   install, lint, build, start the stack, run every test, stop the stack"
	@echo "make bench  release-build benchmarks (see docs/benchmarks.md)"
	@echo "other: setup build lint lint-deploy stack-up stack-down"

setup:
	@scripts/setup

build: setup
	swift build $(SWIFT_BUILD_FLAGS)

lint:
	swift format lint --strict -r Package.swift Sources Tests Benchmarks

lint-deploy: setup
	@scripts/lint-deploy

stack-up: setup
	@scripts/stack start

stack-down:
	@scripts/stack stop

# Unit tests run in parallel; integration tests share one broker, so they run one at a time.
test: setup lint lint-deploy build
	@scripts/stack start
	@set -a; source $(TOOLS)/stack.env; set +a; \
	  $(RUNTIME_ENV) swift test $(SWIFT_BUILD_FLAGS) --skip IntegrationTests \
	  && $(RUNTIME_ENV) swift test $(SWIFT_BUILD_FLAGS) --filter IntegrationTests --no-parallel; rc=$$?; \
	  scripts/stack stop; exit $$rc

demo: setup build
	@scripts/demo

bench: setup
	@scripts/bench
