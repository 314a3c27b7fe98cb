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

# The whole suite: lint, every Rust test on SQLite and PostgreSQL (and the object-storage tests
# against a real S3 server, s3s-fs), the deployment files, then the live-server tool runs
# (the /docs page, the web console and the capture page with a fake camera in headless Chromium,
# newman, schemathesis, and a client generated from the OpenAPI document running the main flow).
test: lint
	bash scripts/s3-server.sh install >/dev/null
	OZ_TEST_S3_SERVER="$(CURDIR)/.tools/bin/s3s-fs" bash scripts/with-postgres.sh $(CARGO) test --workspace
	bash scripts/check-deploy.sh
	bash scripts/check-ops.sh
	bash scripts/docs-browser.sh
	bash scripts/console-e2e.sh
	bash scripts/capture-e2e.sh
	bash scripts/newman.sh
	bash scripts/schemathesis.sh
	bash scripts/client-e2e.sh

bench: setup
	$(CARGO) bench -p oz-vision --bench pipeline
