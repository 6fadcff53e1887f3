# Two commands do all set-up: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test unit lint typecheck node browser redis containers image bench docs-images clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# runtime install at the tested versions (requirements/constraints.txt; torch 2.13.0, CPU wheel)
$(VENV)/.installed: pyproject.toml requirements/constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e .
	touch $@

# test install: the runtime plus pytest, playwright (driving Debian's chromium), ruff
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[test]'
	touch $@

# plotly.js with only the trace types the figures use (plotlyjs/), served as a dashboard asset:
# built with npm (locked versions, no install scripts run) when npm is there; without it the
# page loads Dash's full plotly.js instead (the same pictures, about half a second later)
PLOTLY_JS := app/assets/plotly-partial.min.js
$(PLOTLY_JS): plotlyjs/package.json plotlyjs/package-lock.json plotlyjs/entry.js plotlyjs/build.js
	@if command -v npm >/dev/null; then \
		(cd plotlyjs && npm ci --ignore-scripts --no-audit --no-fund --silent && node build.js) || \
		echo "could not build $@ (npm failed): the dashboard loads Dash's full plotly.js"; \
	else \
		echo "npm not found: the dashboard loads Dash's full plotly.js ('make node' installs npm)"; \
	fi

run: $(VENV)/.installed $(PLOTLY_JS)
	$(BIN)/funnelscope serve --host 127.0.0.1 --port 8050

# Debian's Node.js and npm, to build $(PLOTLY_JS)
node:
	@if ! command -v npm >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm; \
	fi

# Debian's chromium and chromedriver for the browser tests (never `playwright install`)
browser:
	@if [ ! -x /usr/bin/chromium ] || ! command -v chromedriver >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; \
	fi

# Debian's redis-server for the service tests (started on loopback by the tests themselves)
redis:
	@if ! command -v redis-server >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server; \
	fi

# a container engine for `make image` and the container tests (tests/containers/): Docker when its
# daemon answers, otherwise Debian's podman with runc and podman-compose, and debootstrap for
# stand-in base images where no registry serves them; Debian's docker-compose checks
# docker-compose.yml
containers:
	@if ! docker info >/dev/null 2>&1 && ! command -v podman >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq podman podman-compose runc debootstrap; \
	fi
	@if ! command -v docker-compose >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq docker-compose; \
	fi

# builds the image (funnelscope:latest) and smoke-tests it: health, page and assets, HEALTHCHECK,
# user 10001, torch 2.13.0 CPU, the project from its wheel, no build-time settings left
image: $(VENV)/.installed-test node $(PLOTLY_JS) containers
	$(BIN)/python -m pytest -q tests/containers/test_image.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check landscapes app tests benchmarks gunicorn.conf.py requirements

# static types of the library and the dashboard ([tool.mypy] in pyproject.toml)
typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

test: $(VENV)/.installed-test node $(PLOTLY_JS) browser redis containers lint typecheck
	$(BIN)/python -m pytest

# the unit tests alone (no browser, no services), under two minutes: without those marked slow
# (training and slicing the deep skip-connection examples take minutes, installing the wheel into
# a fresh virtualenv half a minute; `make test` runs them)
unit: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -m "not slow" tests/unit

# docs/user-guide.md's screenshots, redrawn by its browser walk-through (tests/e2e/test_user_guide.py)
docs-images: $(VENV)/.installed-test browser
	FUNNELSCOPE_DOC_IMAGES=1 $(BIN)/python -m pytest -q tests/e2e/test_user_guide.py

bench: $(VENV)/.installed-test node $(PLOTLY_JS) browser redis
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[bench]'
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/spin.py
	$(BIN)/python benchmarks/funnel.py
	$(BIN)/python benchmarks/networks.py
	$(BIN)/python benchmarks/networks.py --threads 0 --steps 101 --models moons-mlp,digits-cnn \
		--no-loss-landscapes
	$(BIN)/python benchmarks/whole_process.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/skips.py
	$(BIN)/python benchmarks/page_load.py
	$(BIN)/python benchmarks/payload.py
	$(BIN)/python benchmarks/bounds.py
	$(BIN)/python benchmarks/load.py --setup all --users 10 --duration 15
	$(BIN)/python benchmarks/soak.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info plotlyjs/node_modules $(PLOTLY_JS)
