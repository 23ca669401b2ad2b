# Messenger — the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Embed snippets and printed links use the address we serve on, unless told otherwise.
export MESSENGER_PUBLIC_URL ?= http://$(HOST):$(PORT)

.PHONY: run test install lint test-js format services tools vendor widget migrate demo clean messages compile-messages screenshots load bench bench-dashboard

## run: install, migrate, seed the demo and serve on http://$(HOST):$(PORT)
run: install
	$(BIN)/messenger db upgrade --no-prompt
	$(BIN)/messenger demo
	@echo "Sign in: http://$(HOST):$(PORT)/login   Health: http://$(HOST):$(PORT)/ready   API docs: http://$(HOST):$(PORT)/schema"
	@echo "Demo site embedding the widget from another origin: http://localhost:$(PORT)/demo"
	$(BIN)/messenger serve --host $(HOST) --port $(PORT)

## test: install everything, make sure PostgreSQL/Redis/chromium are there, lint, the widget's
## unit tests (node --test), then the suite
test: install services tools lint test-js
	$(BIN)/pytest

install: $(BIN)/.stamp-install node_modules/.stamp-install vendor widget compile-messages

$(BIN)/.stamp-install: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.stamp-install: package.json package-lock.json
	./scripts/ensure-node.sh
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Third-party browser files come from npm (versions pinned in package-lock.json) and are
# copied here, never committed: no page loads a script from a CDN (/schema included).
vendor: node_modules/.stamp-install
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/htmx-ext-sse/dist/sse.js static/vendor/htmx-ext-sse.js
	cp node_modules/@scalar/api-reference/dist/browser/standalone.js static/vendor/scalar-api-reference.js
	cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart.umd.min.js

# The widget's two served files are built from widget/src by esbuild, never committed
# (docs/widget.md, "Building the widget"). Rebuilt when a source or the build script changes.
WIDGET_OUT := static/messenger/widget.js static/messenger/widget-app.js
widget: $(WIDGET_OUT)

# One build writes both files (no grouped target: make 3.81 has none).
static/messenger/widget.js: widget/build.mjs $(wildcard widget/src/*.js) node_modules/.stamp-install
	npm run --silent build
static/messenger/widget-app.js: static/messenger/widget.js
	test -f $@ || npm run --silent build

## messages: extract translatable strings and merge them into the ru/en catalogs
messages: $(BIN)/.stamp-install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k N_ --no-location --omit-header -o messenger/locale/messages.pot .
	$(BIN)/pybabel update -i messenger/locale/messages.pot -d messenger/locale -D messages -w 100 --no-fuzzy-matching

# Compiled catalogs (.mo) are built here, never committed.
compile-messages: $(BIN)/.stamp-install
	$(BIN)/pybabel compile -d messenger/locale -D messages

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	npm run --silent lint

## test-js: the widget's unit tests (transport, outbox, back-off, live, proof of work) in Node
test-js: node_modules/.stamp-install
	npm run --silent test

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

services:
	./scripts/ensure-services.sh

tools:
	./scripts/ensure-tools.sh

migrate: install
	$(BIN)/messenger db upgrade --no-prompt

demo: install
	$(BIN)/messenger demo

## screenshots: regenerate docs/screenshots/ (the README's pictures) in headless chromium
screenshots: install tools
	$(BIN)/python scripts/screenshots.py

## load: the seed's load test (docs/performance.md): LOAD_USERS widget visitors and
## LOAD_OPERATORS dashboard operators, LOAD_RUNS bounded headless Locust runs of LOAD_RUN_TIME
## in a row against its own server (throwaway database messenger_load, 2 workers, port 8765).
## Prints one table (p50/p95/p99 and 5xx per call, RSS and CPU per run), writes Locust's HTML
## reports to var/load/, and fails when a run's RSS or CPU per request grows over 10 % from
## the first run's, or on any 5xx.
LOAD_USERS ?= 200
LOAD_OPERATORS ?= 10
LOAD_RUNS ?= 3
LOAD_SPAWN_RATE ?= 20
LOAD_RUN_TIME ?= 60s
load: $(BIN)/.stamp-install-load services
	$(BIN)/python loadtests/harness.py locust --users $(LOAD_USERS) --operators $(LOAD_OPERATORS) --runs $(LOAD_RUNS) --spawn-rate $(LOAD_SPAWN_RATE) --run-time $(LOAD_RUN_TIME)

## bench-dashboard: the unified messenger on 100k conversations / 1M messages (throwaway
## database messenger_dash, 1 worker, port 8766): p50/p95 per call for an admin and a
## one-branch operator (docs/performance.md). BENCH_CONVERSATIONS, BENCH_REPEAT to change.
BENCH_CONVERSATIONS ?= 100000
BENCH_REPEAT ?= 20
bench-dashboard: $(BIN)/.stamp-install-load services
	$(BIN)/python loadtests/bench_dashboard.py --conversations $(BENCH_CONVERSATIONS) --repeat $(BENCH_REPEAT)

$(BIN)/.stamp-install-load: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[load]'
	touch $@

clean:
	rm -rf $(VENV) node_modules static/vendor $(WIDGET_OUT) .pytest_cache .ruff_cache .mypy_cache

## bench: the widget hot path (send, poll, bootstrap) against a bare ASGI floor doing only the
## same I/O, with wrk (installed from apt when missing); prints the table and the ratio
## product / floor, writes var/bench/. Not part of `make test` (docs/performance.md).
bench: $(BIN)/.stamp-install-load services
	command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python loadtests/bench.py $(BENCH_ARGS)
