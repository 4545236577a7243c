# Two commands on a fresh machine: `make demo` (the app on the sample project) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO ?= demo-project
PORT ?= 8501
PYTEST_ARGS ?=

.PHONY: demo test setup chromium

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.installed

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing and cannot be installed here: the browser tests will be skipped."; \
	  fi; \
	fi

demo: setup
	$(BIN)/curation init $(DEMO)
	$(BIN)/curation ingest $(DEMO) sample_data/images --labels-from-folders
	$(BIN)/curation embed $(DEMO) --model hog
	$(BIN)/curation serve $(DEMO) --port $(PORT)

test: setup chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)
