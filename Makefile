# Two commands on a fresh machine:
#   make demo   set up .venv, probe a built-in model on this machine, plan against bundled prices
#   make test   set up .venv and run the test suite
VENV := .venv
PY := $(VENV)/bin/python
# CI and these machines install torch's CPU build from local disk; on your own machine
# `make setup TORCH=torch` takes whatever torch build suits it.
TORCH ?= torch==2.13.0

.PHONY: setup demo test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e '.[test,hf,gpuhunt]'
	touch $@

# --max-batch 16 keeps the noise phase's micro-batches small; --time-limit 100 bounds the probe so
# the demo stays under two minutes on a busy 2-core machine (the noise training gives way first).
demo: setup
	$(VENV)/bin/batchfit plan --model gpt-tiny --precision bf16 --tokens 20000000000 \
		--ref-batch 64 --ref-lr 6e-4 --budget 500 --deadline 24 --spot \
		--max-batch 16 --noise-steps 30 --noise-train-steps 200 --time-limit 100

test: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check planner kernels providers
	$(VENV)/bin/mypy planner kernels providers
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
