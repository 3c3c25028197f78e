# Every target creates .venv first if it is missing, and reinstalls a requirements file only when it changed.
PYTHON ?= python3
PORT ?= 8765
VENV := .venv
BIN := $(VENV)/bin

# Open a browser only where there is a display (macOS always has one); run Jupyter as root only if we are root.
NO_BROWSER := $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: lab test test-live-sim outputs bench serve lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.req-stamp: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(VENV)/.dev-stamp: requirements-dev.txt requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@ $(VENV)/.req-stamp

lab: $(VENV)/.req-stamp
	$(BIN)/jupyter lab notebooks --ServerApp.ip=127.0.0.1 $(NO_BROWSER) $(ALLOW_ROOT)

test: $(VENV)/.dev-stamp
	$(BIN)/ruff check .
	$(BIN)/pytest

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

bench: $(VENV)/.req-stamp
	@if [ -f benchmarks/__main__.py ]; then $(BIN)/python -m benchmarks; else echo "No benchmarks/__main__.py"; fi

# Removes caches and test artefacts; keeps .venv.
clean:
	find . -path ./$(VENV) -prune -o -type d \( -name __pycache__ -o -name .ipynb_checkpoints \) -prune -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .hypothesis pw-results build *.egg-info
