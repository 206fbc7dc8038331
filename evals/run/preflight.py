"""Build the benchmark's samples before the model loads, so bad data or options fail in seconds.

A missing or corrupt data file, a length too short for the prompt template, or options that
leave no sample at all would otherwise surface only after a model download and load, as a
traceback, leaving an empty run folder. Here the benchmark's optional `validate()` hook runs
first (cheap checks, e.g. data reachable), then its samples are built with the tokenizer alone
(for streaming benchmarks only the first one). Any failure becomes a ValueError naming the
benchmark and its data option. A session remembers what it has built (a multirun checks each
config once).
"""
from __future__ import annotations

import itertools
import json

from evals.run.plan import RunPlan
from evals.run.session import Session

DATA_OPTIONS = ("data_dir", "files", "haystack", "dataset", "qa_data")


def _data_hint(options: dict) -> str:
    given = [f"benchmark.{k}={options[k]!r}" for k in DATA_OPTIONS if options.get(k) is not None]
    return f" (data: {', '.join(given)})" if given else ""


def check_samples(plan: RunPlan, session: Session) -> int | None:
    """Run `validate()` and build the samples the run would take; returns their number (None:
    unknown, or already checked in this session).

    Raises ValueError naming `benchmark=<key>` when they cannot be built or there are none.
    """
    benchmark, key, options = plan.benchmark, plan.benchmark_key, plan.benchmark_options
    checked = json.dumps([key, options, plan.model.get("name_or_path"), plan.options.limit], sort_keys=True,
                         default=str)
    if checked in session.checked:
        return None
    hint = _data_hint(options)
    try:
        benchmark.validate()
        if benchmark.has_own_loop:  # lm-eval runs its own loop over its own data
            session.checked.add(checked)
            return None
    except ValueError as err:
        raise ValueError(f"benchmark={key}: {err}{hint}") from err
    except OSError as err:
        raise ValueError(f"benchmark={key}: {type(err).__name__}: {err}{hint}") from err
    tokenizer = session.get_tokenizer(plan.model)  # the model's own: its errors are the model's, not the benchmark's
    try:
        if benchmark.lazy_samples:
            count = sum(1 for _ in itertools.islice(benchmark.samples(tokenizer), 1))
        else:
            count = len(benchmark.sample_list(tokenizer)[:plan.options.limit])
    except ValueError as err:
        raise ValueError(f"benchmark={key}: {err}{hint}") from err
    except (OSError, KeyError, TypeError, RuntimeError, IndexError) as err:
        raise ValueError(f"benchmark={key}: cannot build its samples: {type(err).__name__}: {err}{hint}") from err
    if count == 0:
        raise ValueError(f"benchmark={key} yields no samples with these options{hint}: nothing to evaluate")
    session.checked.add(checked)
    return count
