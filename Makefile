# The two commands of the README. Both start with the idempotent set-up (Debian packages and the
# ONNX Runtime library); `make run` then builds and serves, `make test` runs the whole suite, with
# a throw-away PostgreSQL (scripts/with-postgres.sh) so every storage and API test runs on both engines.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup run build test lint bench

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release -p oz-server

run: build
	./target/release/oz-server serve

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: lint
	bash scripts/with-postgres.sh $(CARGO) test --workspace

bench: setup
	$(CARGO) bench -p oz-vision --bench pipeline
