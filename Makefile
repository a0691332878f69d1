# Two commands for a new machine: `make demo` (the main job) and `make test`.
# Each creates .venv when missing and installs the package with what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch and torchvision are installed as a pair: torchvision's compiled operators work only with the
# torch release they were built for. These are the versions the tests and benchmarks were run with.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
DEMO_DIR ?= outputs/demo

.PHONY: install demo test test-fast bench lint format hooks clean

$(STAMP): setup.py
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PINS)
	$(BIN)/pip install --quiet -e ".[gw,onnx,tracking,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python examples/demo.py --output_dir $(DEMO_DIR)

# The full suite (under 10 minutes on 2 cores).
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n 2 --durations=15 tests

# Everything but the tests marked slow (training runs, remote code, the local Hub mirror, a fresh
# interpreter, the ONNX and calibration-report files, the per-class realism checks): 471 tests in 44 s
# on 2 idle cores (2026-12-01); README.md ("Status and measured figures") says where the time goes.
test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n 2 -m "not slow" tests

bench: $(STAMP)
	HF_HUB_OFFLINE=1 nice -n 5 $(BIN)/python benchmarks/run.py --quick --output outputs/benchmarks.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Run ruff on every commit (the hooks bring their own ruff, so they also work without `make install`).
hooks: $(STAMP)
	$(BIN)/pre-commit install

clean:
	rm -rf $(VENV) outputs build *.egg-info
