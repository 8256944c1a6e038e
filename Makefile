# Two commands for a fresh machine: `make quickstart` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# CPU-only machines take the pinned CPU build of torch (an unpinned torch pulls GBs of CUDA wheels).
TORCH_PIN ?= torch==2.13.0

.PHONY: quickstart reproduce test lint venv clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1; then \
		echo "GPU found: keeping pip's default torch"; \
	else \
		$(PIP) install -q "$(TORCH_PIN)"; \
	fi
	$(PIP) install -q -e ".[dev,dask,sdss]"
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks

quickstart: venv
	$(VENV)/bin/galinfo quickstart --seed 0 --out runs/quickstart

# The paper's whole study on a 20k mock, on 2 CPU cores (about an hour; resumable).
reproduce: venv
	$(VENV)/bin/galinfo study --preset reproduce --out runs/reproduce --jobs 2

clean:
	rm -rf $(VENV) runs
