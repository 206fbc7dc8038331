"""InfiniteBench's options, declared once: defaults (the paper's setting) and their checks.

Every error names the option, the bad value and what is valid. The shipped presets
(conf/benchmark/infinitebench*.yaml) only override these.
"""
from __future__ import annotations

from evals.benchmarks.common.prompt_format import DEFAULT_FORMAT, check_prompt_format
from evals.benchmarks.infinitebench.synthetic import SIZINGS
from evals.benchmarks.infinitebench.tasks import check_tasks
from evals.benchmarks.ruler.options import check_config, check_lengths
from evals.run.config import need_int

DEFAULTS = dict(
    tasks="all",               # "all", or task names (evals.benchmarks.infinitebench.tasks.TASKS)
    lengths=[131072],          # synthetic tasks: target lengths in the model's tokens
    num_samples=None,          # synthetic tasks: samples per task and length; null = the official count
    samples_per_task=None,     # released tasks: the first N records; null = all
    sizing="official",         # synthetic haystack size: official (the script's table) | fit (fill the length)
    seed=42,                   # synthetic keys and values
    data_dir=None,             # released <task>.jsonl files; null = the hub
    prompt_format=DEFAULT_FORMAT,
)


def check_options(config: dict) -> dict:
    """The config with defaults filled in, every value checked."""
    c = check_config("infinitebench", config, DEFAULTS)
    c["tasks"] = check_tasks(c["tasks"])
    c["lengths"] = check_lengths("infinitebench", c["lengths"])
    need_int("benchmark.num_samples", c["num_samples"], low=1, allow_none=True)
    need_int("benchmark.samples_per_task", c["samples_per_task"], low=1, allow_none=True)
    need_int("benchmark.seed", c["seed"])
    if c["sizing"] not in SIZINGS:
        raise ValueError(f"Invalid benchmark.sizing={c['sizing']!r}. Valid choices: {', '.join(SIZINGS)}")
    if c["data_dir"] is not None and (not isinstance(c["data_dir"], str) or not c["data_dir"].strip()):
        raise ValueError(f"Invalid benchmark.data_dir={c['data_dir']!r}: expected a folder path or null")
    c["prompt_format"] = check_prompt_format("infinitebench", c["prompt_format"])
    return c
