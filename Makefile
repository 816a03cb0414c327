# The workbench in two commands: `make report` and `make test`. Each sets itself up.
#
#   make setup    .venv + torch (CPU wheel) + the lock (requirements/lock.txt) + the package
#                 (`pip install -e . --no-deps`) + offline JS assets
#   make lock     re-resolve requirements/lock.txt from pyproject.toml's ranges (uv, PyPI)
#   make data     fetch ml-latest-small (RECSYS_DATA_MIRROR replaces GroupLens)
#   make report   run notebooks/NN_*.ipynb in order -> reports/*.html + reports/index.html
#   make test     make lint + pytest
#   make lint     ruff (lint + format check) + lint-imports (the layers in pyproject.toml)
#   make demo     the recommendation app live in the browser (Voila on 127.0.0.1, open the printed
#                 address: it carries a token; DEMO_ARGS="--port 8870 --max-sessions 4 --idle-timeout 600")
#   make lab      JupyterLab on notebooks/
#   make format   rewrites files with ruff
#   make clean    reports and caches;  make distclean  also .venv, .vendor and downloaded data

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU wheel; GPU users install their CUDA build first and run `make setup TORCH_SPEC=`.
TORCH_SPEC ?= torch==2.13.0
SETUP_STAMP := $(VENV)/.recsys-setup
# Every version the tests ran with, torch apart (TORCH_SPEC stays the CPU/GPU choice).
LOCK := requirements/lock.txt
LOCK_EXTRAS := --extra dev --extra bench
LOCK_PYTHON := 3.11
UV_SPEC ?= uv>=0.5

# Offline HTML reports inline these two scripts; without them the template uses CDN URLs.
VENDOR := .vendor
HTML_MANAGER := @jupyter-widgets/html-manager@1.0.15
REQUIREJS := requirejs@2.3.8
VENDOR_STAMP := $(VENDOR)/.fetched

LINT_PATHS := recsys_utils tests $(wildcard notebooks/*.py) benchmarks
REPORT_ARGS ?=
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: setup lock data report test lint format demo lab clean distclean

setup: $(SETUP_STAMP) $(VENDOR_STAMP)

$(SETUP_STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@if [ -n "$(TORCH_SPEC)" ]; then $(PIP) install --quiet "$(TORCH_SPEC)"; fi
	$(PIP) install --quiet -r $(LOCK)
	$(PIP) install --quiet -e . --no-deps
	$(PIP) check
	@touch $@

# Upgrading: widen or raise a range in pyproject.toml, `make lock`, `make test`, commit both.
# `make lock` keeps every pin the ranges still allow; `make lock UPGRADE=1` takes the newest
# releases within the ranges. torch is overridden out (requirements/no-torch.txt).
UPGRADE ?=
lock:
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@test -x $(VENV)/bin/uv || $(PIP) install --quiet "$(UV_SPEC)"
	$(VENV)/bin/uv pip compile pyproject.toml requirements/torch-deps.txt $(LOCK_EXTRAS) --python-version $(LOCK_PYTHON) \
	  --override requirements/no-torch.txt --index-url https://pypi.org/simple \
	  --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) -o $(LOCK)

# Not fatal: a machine without npm (or offline) still gets working, online-only reports,
# and the next `make setup` tries again.
$(VENDOR_STAMP):
	@mkdir -p $(VENDOR)
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "npm not found: HTML reports will load require.js and the widget manager from a CDN"; \
	else \
	  tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd "$$tmp" && npm pack --silent "$(HTML_MANAGER)" "$(REQUIREJS)" >/dev/null) && \
	  mkdir "$$tmp/wm" "$$tmp/rq" && \
	  tar -xzf "$$tmp"/jupyter-widgets-html-manager-*.tgz -C "$$tmp/wm" package/dist/embed-amd.js && \
	  tar -xzf "$$tmp"/requirejs-*.tgz -C "$$tmp/rq" package/require.js && \
	  cp "$$tmp/wm/package/dist/embed-amd.js" "$$tmp/rq/package/require.js" $(VENDOR)/ && \
	  touch $@ && echo "fetched $(HTML_MANAGER) and $(REQUIREJS) into $(VENDOR)/" || \
	  echo "npm pack failed: HTML reports will load require.js and the widget manager from a CDN"; \
	fi

data: setup
	$(PY) -m recsys_utils data fetch

report: setup data
	$(PY) -m recsys_utils report $(REPORT_ARGS)

lint: setup
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff format $(LINT_PATHS)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Trains the app's checkpoint first when `make report` has not saved one; Ctrl-C stops it.
demo: setup data
	$(PY) -m recsys_utils.app.serve $(DEMO_ARGS)

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf reports build .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(VENDOR) data/raw data/processed data/checkpoints data/cache data/sweeps
	rm -rf *.egg-info
