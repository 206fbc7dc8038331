"""Refuse a length the model or the machine cannot hold, from the config alone.

`benchmark.lengths=[2000000000]` used to build its samples first (22 GB, then the kernel killed
it) and `[99999999999]` ended in a MemoryError; the memory guard only ran once the weights had
loaded. Here, before any sample is built or weight read, the longest prompt is checked against:
  - a bound no run can pass, forced or not: token indices are int32 in the kernels;
  - the positions a frequency method (or the stock model) can rotate: transformers computes the
    angle position x frequency in float32, whose integers are exact only up to 2^24;
  - the memory and time estimate of `evals.run.memory_guard`, from the model's config.json (its
    shape and dtype) and this machine's free memory, where the weights are not loaded yet.
Each error names benchmark.lengths (or max_length), the limit, and `force=true` where it applies.
"""
from __future__ import annotations

from functools import lru_cache

import torch

from evals.run import memory_guard
from lampe import INT_LIMIT, get_method
from lampe.extension import RegionMethod

POSITION_LIMIT = 2**24  # float32 represents every integer up to here, and no further


def _option(bench_cfg: dict) -> str:
    return "benchmark.lengths" if bench_cfg.get("lengths") is not None else "benchmark.max_length"


def check_positions(tokens: int, method: str, bench_cfg: dict, force: bool) -> None:
    """The bounds that need no model: int32 indices, float32 positions for frequency methods."""
    option = _option(bench_cfg)
    if tokens > INT_LIMIT:
        raise ValueError(f"Invalid {option}: {tokens} tokens exceed {INT_LIMIT} (2^31 - 1), the most any forward "
                         f"can index; force=true cannot start it")
    if tokens > POSITION_LIMIT and not issubclass(get_method(method), RegionMethod) and not force:
        raise ValueError(f"Invalid {option}: {tokens} tokens exceed {POSITION_LIMIT} (2^24), the last position "
                         f"whose rotary angle method '{method}' computes exactly (float32 positions); lower "
                         f"{option}, or run with force=true to start it anyway")


def _torch_dtype(dtype: str | None, config: dict):
    name = dtype if dtype not in (None, "auto") else str(config.get("dtype") or config.get("torch_dtype") or "float32")
    return getattr(torch, name, torch.float32)


def _device(model_cfg: dict):
    """Where the weights will go: model.device, else cuda when there is one, else cpu."""
    if model_cfg.get("device") is not None:
        return torch.device(model_cfg["device"])
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def free_memory(model_cfg: dict) -> tuple[int | None, str]:
    """(free bytes, where) before the model loads: the GPU(s) it goes to, or RAM."""
    device = _device(model_cfg)
    if device.type == "cuda":
        if model_cfg.get("device_map") is not None:  # spread over every visible GPU
            free = sum(torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count()))
            return free, f"{torch.cuda.device_count()} GPU(s)"
        return torch.cuda.mem_get_info(device)[0], str(device)
    return memory_guard._ram_available(), "RAM"


@lru_cache(maxsize=8)
def _rate(size: int, device: str, dtype) -> float:
    return memory_guard.matmul_rate(size, device, dtype)


def check_lengths(model_cfg: dict, method: str, bench_cfg: dict, config: dict | None, force: bool) -> str | None:
    """The estimate's line for the longest prompt (None: no length to check); ValueError when a
    bound is passed. `config`: the model's config.json (None: skip the memory and time estimate,
    e.g. when the model is already loaded and the post-load guard will judge)."""
    tokens = memory_guard.longest_prompt(bench_cfg)
    if not tokens:
        return None
    check_positions(tokens, method, bench_cfg, force)
    if config is None:
        return None
    try:
        shape = memory_guard.shape_from_config(config, model_cfg.get("dtype"), model_cfg.get("attn_implementation"))
    except (KeyError, TypeError, ValueError):  # a config without the usual dimensions: the post-load guard judges
        return None
    est = memory_guard.estimate(shape, tokens)
    free, where = free_memory(model_cfg)
    seconds = est["flops"] / _rate(shape.hidden, str(_device(model_cfg)), _torch_dtype(model_cfg.get("dtype"), config))
    return memory_guard.judge(tokens, est, seconds, free, where, loaded=False, force=force)
