# Every target creates .venv first if it is missing, and reinstalls a requirements file only when it changed.
PYTHON ?= python3
PORT ?= 8765
VENV := .venv
BIN := $(VENV)/bin

# Open a browser only where there is a display (macOS always has one); run Jupyter as root only if we are root.
NO_BROWSER := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test test-latest test-live-sim outputs bench serve lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Install a requirements file with uv, a pip-compatible installer about three times faster here (pinned, put into
# the venv by pip; `--compile-bytecode` as pip does, or every process would compile what it imports where
# PYTHONDONTWRITEBYTECODE is set), or with pip itself if uv cannot (uv reads no pip.conf: a machine that reaches
# packages only through an index set there installs with pip).
UV_VERSION := 0.13.8
install = ($(BIN)/python -m pip install -q uv==$(UV_VERSION) && $(BIN)/uv pip install --compile-bytecode --python $(BIN)/python -r $(1)) \
	|| $(BIN)/python -m pip install -r $(1)

$(VENV)/.req-stamp: requirements.txt pyproject.toml | $(BIN)/python
	$(call install,requirements.txt)
	touch $@

$(VENV)/.dev-stamp: requirements-dev.txt requirements.txt pyproject.toml | $(BIN)/python
	$(call install,requirements-dev.txt)
	touch $@ $(VENV)/.req-stamp

lab: $(VENV)/.req-stamp
	$(BIN)/jupyter lab notebooks --ServerApp.ip=127.0.0.1 $(NO_BROWSER) $(ALLOW_ROOT)

# Test files run on JOBS workers, each file whole on one worker (notebooks keep their cells in order), the longest
# files first (conftest.py's LONGEST_FIRST, an order --no-loadscope-reorder keeps): JOBS=1 for a serial run.
# The suite waits about half the time (subprocesses, sleeps, the simulated latency of the lessons about it), so
# on 2 cores 4 workers finish sooner than 2 (about 95 s for the whole run here).
JOBS ?= 4
PYTEST_PARALLEL = $(if $(filter-out 0 1,$(JOBS)),-n $(JOBS) --dist loadfile --no-loadscope-reorder)

test: $(VENV)/.dev-stamp
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_PARALLEL)

# The suite against the newest `anthropic` release, in a throwaway venv (LATEST_VENV): a report of what an upgrade
# breaks, not part of `make test`. Exits non-zero when something breaks; the summary is in $(LATEST_VENV)/report.txt.
LATEST_VENV ?= $(or $(TMPDIR),/tmp)/claude-field-guide-latest
test-latest:
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install -q -r requirements-dev.txt
	$(LATEST_VENV)/bin/python -m pip install -q --upgrade anthropic
	$(LATEST_VENV)/bin/python -m pip list 2>/dev/null | grep -i -E '^(anthropic|httpx2?|httpcore2?|pydantic) ' \
		| tee $(LATEST_VENV)/report.txt
	bash -o pipefail -c '$(LATEST_VENV)/bin/pytest $(PYTEST_PARALLEL) -p no:cacheprovider 2>&1 \
		| tee -a $(LATEST_VENV)/report.txt | tail -n 60'

# Every lesson run top to bottom in live mode against an offline Claude limited to 50 requests per minute (minutes;
# not part of `make test`): `make test-live-sim`, `make test-live-sim LESSON=05`, `make test-live-sim RPM=30`
test-live-sim: $(VENV)/.dev-stamp
	$(BIN)/python tests/live_sim.py $(if $(LESSON),--lesson $(LESSON)) $(if $(RPM),--rpm $(RPM))

lint: $(VENV)/.dev-stamp
	$(BIN)/ruff check .

# Re-run notebooks offline and store their outputs: `make outputs` or `make outputs NB=notebooks/01_basic_call.ipynb`
outputs: $(VENV)/.dev-stamp
	CLAUDE_OFFLINE=1 $(BIN)/python tests/make_outputs.py $(NB)

serve: $(VENV)/.req-stamp
	$(BIN)/python -m helpers.offline --port $(PORT)

$(VENV)/.bench-stamp: benchmarks/requirements.txt requirements-dev.txt requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r benchmarks/requirements.txt
	touch $@ $(VENV)/.dev-stamp $(VENV)/.req-stamp

# Every figure as a ratio measured side by side in one run: `make bench`, or `make bench ARGS=--quick` for a look.
bench: $(VENV)/.bench-stamp
	$(BIN)/python -m benchmarks $(ARGS)

# Removes caches and test artefacts; keeps .venv.
clean:
	find . -path ./$(VENV) -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -prune -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .hypothesis pw-results build *.egg-info
