"""The checks of a composed config, before anything loads: the runner's own options (as one typed
`RunOptions`), the names that become folders, and the method's effective parameters.

Hydra passes `rerun=no` through as the string "no" and `threads=abc` as "abc"; left alone they
mean "rerun" and fail later as "invalid literal for int()". Every error here names the option,
the value and what is valid. The benchmark's options are its own declarations'
(evals.benchmarks.options), the model's evals.run.model_options'. `method_values` is the one
place a method's parameters are decided, for the runner, the study and the lm-eval model alike.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from evals.run.sample_method import AUTO, RULE_KEY, auto_params
from lampe import get_method

SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=-]*$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def need_bool(option: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {option}={value!r}: expected a boolean (true or false)")
    return value


def need_int(option: str, value: Any, low: int | None = None, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if not _is_int(value) or (low is not None and value < low):
        what = "an integer" if low is None else f"an integer >= {low}"
        raise ValueError(f"Invalid {option}={value!r}: expected {what}{' or null' if allow_none else ''}")
    return value


def need_str(option: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"Invalid {option}={value!r}: expected a non-empty string")
    return value


@dataclass(frozen=True)
class RunOptions:
    """conf/config.yaml's top level, checked (its defaults are the YAML's: tests hold them equal)."""

    results_dir: str = "results"
    limit: int | None = None
    rerun: bool = False
    wait: bool = False
    force: bool = False
    progress: bool = True
    objective: str = "average"
    seed: int = 0
    threads: int | None = None
    imports: list[str] = field(default_factory=list)
    shard: dict | str | None = None  # as given: evals.run.shards.shard_of reads it with the launcher's variables
    merge_only: bool = False  # shard.merge_only
    logger: dict | None = None

    @classmethod
    def from_conf(cls, conf: dict) -> RunOptions:
        """The options of a composed config; ValueError naming the first bad one."""
        given = {name: conf[name] for name in cls.__dataclass_fields__ if name in conf and name != "merge_only"}
        options = cls(**given)
        for name in ("rerun", "wait", "progress", "force"):
            need_bool(name, getattr(options, name))
        need_int("limit", options.limit, low=1, allow_none=True)
        need_int("threads", options.threads, low=1, allow_none=True)
        need_int("seed", options.seed)
        need_str("results_dir", options.results_dir)
        need_str("objective", options.objective)
        if not isinstance(options.imports, list) or not all(isinstance(m, str) and m for m in options.imports):
            raise ValueError(f"Invalid imports={options.imports!r}: expected a list of module names")
        shard = options.shard or {}
        if shard == AUTO:  # shard=auto: from the launcher's or Slurm's variables
            shard = {}
        if not isinstance(shard, dict):
            raise ValueError(f"Invalid shard={shard!r}: expected auto, or shard.index / shard.count / shard.merge_only")
        for key, low in (("index", 0), ("count", 1)):
            if shard.get(key) != AUTO:
                need_int(f"shard.{key}", shard.get(key), low=low, allow_none=True)
        merge_only = need_bool("shard.merge_only", shard.get("merge_only", False))
        model = conf.get("model") or {}
        for flag in ("trust_remote_code", "chat_template"):
            if flag in model:
                need_bool(f"model.{flag}", model[flag])
        return cls(**{**given, "merge_only": merge_only})


def check_path_name(option: str, value: Any) -> str:
    """A name that becomes a folder under results_dir: one plain path component."""
    if not isinstance(value, str) or not SAFE_NAME.match(value) or ".." in value:
        raise ValueError(f"Invalid {option}={value!r}: it names a folder under results_dir, so it must be one "
                         f"plain name (letters, digits, _ . + = -; no '/', no '..')")
    return value


def method_values(method_cfg: dict, model_cfg: dict) -> dict:
    """Effective parameters of the chosen method: user > model's method_defaults > method default,
    and the model's window where the method takes one (`Method.with_window`).

    Raises ValueError (unknown parameter, bad value, conflicting choices) without a model.
    """
    name = method_cfg["name"]
    cls = get_method(name)
    auto = auto_params(method_cfg)  # `auto` / rule=published: set per sample by the method's rule (evals.run.sample_method)
    rule = method_cfg.get(RULE_KEY)
    given = {k: v for k, v in method_cfg.items() if k not in ("name", RULE_KEY) and v is not None and k not in auto}
    defaults = {k: v for k, v in ((model_cfg.get("method_defaults") or {}).get(name) or {}).items() if k not in auto}
    merged = cls.with_window(cls.merge_defaults(defaults, given), model_cfg.get("pretraining_length"))
    for key in auto:
        merged.pop(key, None)
    if auto and model_cfg.get("pretraining_length") is None:
        raise ValueError(f"method.{sorted(auto)[0]}=auto scales by sample length / model.pretraining_length: set "
                         "model.pretraining_length (the model's trained window in tokens)")
    values = cls.parse_params(merged)
    cls.check(values, model_cfg.get("pretraining_length"))
    if rule is not None:
        cls.check_published(values)
    return {**values, **dict.fromkeys(auto, AUTO), **({RULE_KEY: rule} if rule is not None else {})}
