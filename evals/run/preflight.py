"""Build the benchmark's samples before the model loads, so bad data or options fail in seconds.

A missing or corrupt data file, a length too short for the prompt template, or options that
leave no sample at all would otherwise surface only after a model download and load, as a
traceback, leaving an empty run folder. Here the benchmark's optional `validate()` hook runs
first (cheap checks, e.g. data reachable), then its samples are built with the tokenizer alone
(for streaming benchmarks only the first one). Any failure becomes a ValueError naming the
benchmark and its data option.
"""
from __future__ import annotations

import itertools
import json

DATA_OPTIONS = ("data_dir", "files", "haystack", "dataset", "qa_data")
_checked: set[str] = set()  # configs already built in this process (a multirun checks each once)
_tokenizers: dict[str, object] = {}


def cached_tokenizer(model_cfg: dict):
    """The model's tokenizer, loaded once per process; a failure names model.name_or_path."""
    from lampe import load_tokenizer

    name = model_cfg["name_or_path"]
    if name not in _tokenizers:
        try:
            tokenizer = load_tokenizer(name, trust_remote_code=bool(model_cfg.get("trust_remote_code")))
        except (OSError, ValueError, ImportError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"Invalid model.name_or_path={name!r}: its tokenizer cannot be loaded ({first})") from None
        _tokenizers.clear()
        _tokenizers[name] = tokenizer
    return _tokenizers[name]


def _data_hint(bench_cfg: dict) -> str:
    given = [f"benchmark.{k}={bench_cfg[k]!r}" for k in DATA_OPTIONS if bench_cfg.get(k) is not None]
    return f" (data: {', '.join(given)})" if given else ""


def check_samples(benchmark, bench_key: str, bench_cfg: dict, model_cfg: dict, limit: int | None) -> int | None:
    """Run `validate()` and build the samples a run would take; returns their number (None: unknown).

    Raises ValueError naming `benchmark=<key>` when they cannot be built or there are none.
    """
    key = json.dumps([bench_key, bench_cfg, model_cfg.get("name_or_path"), limit], sort_keys=True, default=str)
    if key in _checked:
        return None
    try:
        getattr(benchmark, "validate", lambda: None)()
        if getattr(benchmark, "run", None) is not None:  # lm-eval runs its own loop over its own data
            _checked.add(key)
            return None
    except ValueError as err:
        raise ValueError(f"benchmark={bench_key}: {err}{_data_hint(bench_cfg)}") from err
    except OSError as err:
        raise ValueError(f"benchmark={bench_key}: {type(err).__name__}: {err}{_data_hint(bench_cfg)}") from err
    tokenizer = cached_tokenizer(model_cfg)  # the model's own: its errors are the model's, not the benchmark's
    try:
        if benchmark.lazy_samples:
            count = sum(1 for _ in itertools.islice(benchmark.samples(tokenizer), 1))
        else:
            count = len(benchmark.sample_list(tokenizer)[:limit])
    except ValueError as err:
        raise ValueError(f"benchmark={bench_key}: {err}{_data_hint(bench_cfg)}") from err
    except (OSError, KeyError, TypeError, RuntimeError, IndexError) as err:
        raise ValueError(f"benchmark={bench_key}: cannot build its samples: {type(err).__name__}: {err}"
                         f"{_data_hint(bench_cfg)}") from err
    if count == 0:
        raise ValueError(f"benchmark={bench_key} yields no samples with these options{_data_hint(bench_cfg)}: "
                         f"nothing to evaluate")
    _checked.add(key)
    return count
