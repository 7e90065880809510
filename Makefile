# loadwatch: `make run` starts the service, `make test` runs every check and test.
# Both bootstrap what they need on a fresh machine: uv (through pip) and the venv.

SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PYTEST_ARGS ?=

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: bench-compare help bootstrap system-deps compose-plugin run run-mongo mongo-server clean-data stack test lint typecheck pytest pytest-real bench format load load-duet screenshots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install uv if it is missing, then the locked venv
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check uv \
		|| python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages uv
	@$(UV) sync --locked --quiet

system-deps: ## Debian packages the tests run for real: prometheus (and promtool), chromium
	@missing=""; \
	command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing="prometheus"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian's packages:$$missing (the tests run a real Prometheus and headless Chromium)"; \
		$(SUDO) apt-get -o DPkg::Lock::Timeout=300 update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

compose-plugin: bootstrap ## link the Compose binary from PyPI as the `docker compose` CLI plugin
	@mkdir -p $(HOME)/.docker/cli-plugins
	@ln -sf $(CURDIR)/.venv/bin/docker-compose $(HOME)/.docker/cli-plugins/docker-compose

stack: bootstrap ## service, Locust master + 2 workers, Prometheus (and MONITOR=1: cpu-monitor)
	./stack.sh

run: bootstrap ## the service on http://127.0.0.1:8000, embedded in-memory database
	$(UV) run python -m rest_service serve

MONGO_SERVER := .tools/mongo-server

mongo-server: ## build FerretDB, the real wire-protocol server, once into .tools/ (needs Go)
	@if ! command -v go >/dev/null 2>&1; then \
		if [ "$$CI" = true ]; then echo "error: CI needs Go to build FerretDB (make mongo-server)" >&2; exit 1; fi; \
		echo "no Go here: the tests on a real MongoDB server will skip (install Go, or set MONGODB_URL)"; \
	elif [ ! -x $(MONGO_SERVER) ] || [ -n "$$(find mongo_server -newer $(MONGO_SERVER) -type f)" ]; then \
		echo "building FerretDB $$(awk '$$2 == "github.com/FerretDB/FerretDB" {print $$3}' mongo_server/go.mod) into $(MONGO_SERVER) (once; Go keeps its module and build caches)"; \
		start=$$(date +%s); \
		(cd mongo_server && go build -o ../$(MONGO_SERVER) .) && \
		echo "built $(MONGO_SERVER) in $$(( $$(date +%s) - start )) s"; \
	fi

run-mongo: bootstrap mongo-server ## the service on a real server: MONGODB_URL, or FerretDB with its data in .data/
	./run_mongo.sh

clean-data: ## remove what make run-mongo keeps in .data/
	rm -rf .data

test: bootstrap lint typecheck pytest pytest-real ## lint, type checks and every test

lint: bootstrap ## ruff lint and format check
	$(UV) run ruff check .
	$(UV) run ruff format --check .

format: bootstrap ## apply ruff's fixes and format
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

typecheck: bootstrap ## strict mypy on every package: the service, the emulation, the monitor, loadkit, grafana
	$(UV) run mypy

# The tests that time real Locust runs and sample the machine (loadkit's verdicts, cpu-monitor)
# run one at a time, alone: another test beside them would be noise in what they measure.
# Every other test (the service, its emulation, the functional tests, the dashboards'
# queries) runs in two processes. PYTEST_ARGS given: one run of exactly those.
TIMED_TESTS := tests/loadkit tests/monitor

pytest: bootstrap system-deps mongo-server ## unit, API, live-process and functional tests
ifeq ($(strip $(PYTEST_ARGS)),)
	$(UV) run pytest $(TIMED_TESTS)
	$(UV) run pytest -n 2 $(addprefix --ignore=,$(TIMED_TESTS))
else
	$(UV) run pytest $(PYTEST_ARGS)
endif

pytest-real: bootstrap mongo-server ## the functional tests again, the service on a real server
	FUNCTIONAL_TESTS_DATABASE=real $(UV) run pytest -n 2 functional_tests

load: bootstrap ## a 90 s headless distributed load test (master + 2 workers); results in results/
	$(UV) run python locust/run_load.py $(LOAD_ARGS)

load-duet: bootstrap ## make load as a duet: BASE=<commit> (HEAD: A/A) beside the working tree; results/duet.*
	@[ -n "$(BASE)" ] || { echo "usage: make load-duet BASE=<commit> (HEAD for an A/A duet)" >&2; exit 2; }
	$(UV) run python locust/run_duet.py --base $(BASE) $(LOAD_ARGS)

screenshots: bootstrap system-deps ## the README's pictures from real runs (docs/img/), and the dashboards
	$(UV) run python -m docs.screenshots
	$(UV) run python -m grafana.dashboards

bench-compare: bootstrap ## storage, ingest and Locust-writes benchmarks on BASE=<commit> and the working tree, in turn, with ratios
	@[ -n "$(BASE)" ] || { echo "usage: make bench-compare BASE=<commit>" >&2; exit 2; }
	$(UV) run python -m benchmarks.compare_commits --base $(BASE) $(BENCH_ARGS)

bench: bootstrap ## the benchmarks, printing their figures (not part of `make test`)
	$(UV) run python -m benchmarks.ingest
	$(UV) run python -m benchmarks.storage
	$(UV) run python -m benchmarks.metrics
	$(UV) run python -m benchmarks.monitor_overhead
	$(UV) run python -m benchmarks.events
	$(UV) run python -m benchmarks.locust_writes
	$(UV) run python -m benchmarks.locust_capacity
	$(UV) run python -m benchmarks.recorder_overhead
	$(UV) run python -m benchmarks.verdicts
