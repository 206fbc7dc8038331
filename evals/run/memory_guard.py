"""Refuse a forward pass that cannot fit in memory, before it starts.

`lengths=[200000]` on a CPU would start a forward that runs for hours and swaps the machine.
From the loaded model's shape and the longest prompt the benchmark asks for, estimate what a
prefill holds at once: the weights, the KV cache of every layer, one layer's activations and
(with eager attention) one layer's score matrix. That is a lower bound, not a profile. When it
exceeds the memory the device has free, the run is refused with the numbers; `force=true` starts
it anyway. The compute is reported too (floating-point operations, and the time they take at the
speed of a matmul measured on the device: again a lower bound); a sample that would take over an
hour even so also needs `force=true`, so a run of hours is a choice, not a surprise.

The same estimate runs twice: from the model's config.json before anything is loaded or built
(`evals.run.length_guard`, where free memory must also hold the weights), and from the loaded model
before the first forward (here, where the weights are already in memory).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

GIB = 2**30
MAX_SECONDS = 3600  # one sample's lower-bound time beyond which a run needs force=true
_WIDTHS = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


@dataclass(frozen=True)
class Shape:
    """What the estimate needs of a model: its dimensions, parameter count and element width."""

    hidden: int
    layers: int
    heads: int
    head_dim: int
    kv_heads: int
    inter: int
    params: int
    width: int
    eager: bool = False


def shape_of(model) -> Shape:
    """A loaded model's shape."""
    config = model.config
    param = next(model.parameters())
    return _shape(config.to_dict(), sum(p.numel() for p in model.parameters()), param.element_size(),
                  getattr(config, "_attn_implementation", None))


def shape_from_config(config: dict, dtype: str | None, attn: str | None) -> Shape:
    """A model's shape from its config.json alone: parameters counted from the dimensions
    (embeddings, attention and MLP projections), width from the dtype the run asks for."""
    hidden, layers = int(config["hidden_size"]), int(config["num_hidden_layers"])
    heads = int(config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or hidden // heads)
    kv_heads = int(config.get("num_key_value_heads") or heads)
    inter = int(config.get("intermediate_size") or 4 * hidden)
    vocab = int(config.get("vocab_size") or 0)
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    per_layer = hidden * (heads + 2 * kv_heads) * head_dim + heads * head_dim * hidden + 3 * hidden * inter
    if dtype in _WIDTHS:
        width = _WIDTHS[dtype]
    else:  # auto / null: the checkpoint's own dtype
        width = _WIDTHS.get(str(config.get("dtype") or config.get("torch_dtype") or "float32"), 4)
    return _shape(config, embeddings + layers * per_layer, width, attn)


def _shape(config: dict, params: int, width: int, attn: str | None) -> Shape:
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    return Shape(hidden=hidden, layers=config["num_hidden_layers"], heads=heads,
                 head_dim=config.get("head_dim") or hidden // heads,
                 kv_heads=config.get("num_key_value_heads") or heads,
                 inter=config.get("intermediate_size") or 4 * hidden, params=params, width=width,
                 eager=attn == "eager")


def longest_prompt(bench_cfg: dict) -> int | None:
    """The most tokens one forward sees: the largest of `lengths`, else `max_length`."""
    lengths = bench_cfg.get("lengths")
    if isinstance(lengths, int):
        lengths = [lengths]
    if isinstance(lengths, list) and lengths and all(isinstance(n, int) for n in lengths):
        return max(lengths)
    limit = bench_cfg.get("max_length")
    return limit if isinstance(limit, int) else None


def estimate(model, tokens: int) -> dict[str, float]:
    """Bytes a prefill of `tokens` tokens holds at once (lower bound), and its multiply-adds.
    `model`: a loaded model or its `Shape`. Python integers: no length overflows."""
    shape = model if isinstance(model, Shape) else shape_of(model)
    width, layers, heads, head_dim = shape.width, shape.layers, shape.heads, shape.head_dim
    hidden, kv_heads, inter, params = shape.hidden, shape.kv_heads, shape.inter, shape.params
    weights = params * width
    kv_cache = 2 * layers * tokens * kv_heads * head_dim * width
    activations = tokens * (4 * hidden + 3 * inter + (heads + 2 * kv_heads) * head_dim) * width
    scores = heads * tokens * tokens * width if shape.eager else 0
    flops = 2 * params * tokens + 2 * layers * heads * head_dim * tokens * tokens
    return {"weights": weights, "kv_cache": kv_cache, "activations": activations, "scores": scores,
            "total": weights + kv_cache + activations + scores, "flops": flops}


def _ram_available() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def available_bytes(model) -> tuple[int | None, str]:
    """(free bytes, where) over the devices holding the model (a device map spreads it): CUDA's
    free memory, MemAvailable for the CPU. The loaded weights are already not free."""
    devices = {p.device for p in model.parameters()}
    free, names = 0, []
    for device in sorted(devices, key=str):
        if device.type == "cuda":
            free += torch.cuda.mem_get_info(device)[0]
        else:
            ram = _ram_available()
            if ram is None:
                return None, "RAM"
            free += ram
        names.append("RAM" if device.type == "cpu" else str(device))
    return free, " + ".join(names)


def flop_rate(model) -> float:
    """Multiply-adds per second of a hidden x hidden matmul on the model's device and dtype (~0.1 s).

    On CPU it counts this process's CPU time (x its torch threads), not wall time: a process that
    shares the cores (or runs under `nice`) would otherwise measure its share and refuse a run that
    takes minutes as one of hours."""
    param = next(model.parameters())
    return matmul_rate(model.config.hidden_size, param.device, param.dtype)


def matmul_rate(size: int, device, dtype) -> float:
    """`flop_rate` without a model: a (1024 x size) @ (size x size) matmul on `device` in `dtype`."""
    device = torch.device(device)
    param = torch.empty(0, device=device, dtype=dtype)
    a = torch.randn(1024, size, device=param.device, dtype=param.dtype)
    b = torch.randn(size, size, device=param.device, dtype=param.dtype)
    a @ b  # warm-up
    if param.device.type == "cuda":
        torch.cuda.synchronize(param.device)
    start, cpu_start, runs = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - start < 0.05 or runs < 3:
        a @ b
        runs += 1
    work = 2 * 1024 * size * size * runs
    if param.device.type == "cuda":
        torch.cuda.synchronize(param.device)
        return work / (time.perf_counter() - start)
    busy = (time.process_time() - cpu_start) / max(1, torch.get_num_threads())
    return work / max(busy, 1e-9)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def describe(tokens: int, est: dict, seconds: float) -> str:
    return (f"a {tokens}-token forward holds at least {est['total'] / GIB:.1f} GiB (weights "
            f"{est['weights'] / GIB:.1f}, KV cache {est['kv_cache'] / GIB:.1f}, activations "
            f"{est['activations'] / GIB:.1f}, attention scores {est['scores'] / GIB:.1f}) and "
            f"{est['flops'] / 1e12:.1f} TFLOP per sample (at this device's matmul speed, at least "
            f"{_duration(seconds)})")


def judge(tokens: int, est: dict, seconds: float, free: int | None, where: str, loaded: bool, force: bool) -> str:
    """The estimate's line; ValueError (naming the options) when it exceeds free memory or an hour
    and `force` is not set. `loaded`: the weights already sit in that free memory's device."""
    line = describe(tokens, est, seconds)
    need = est["total"] - est["weights"] if loaded else est["total"]
    if free is not None and need > free and not force:
        beside = " beside the loaded weights" if loaded else ""
        raise ValueError(f"{line}, but {where} has {free / GIB:.1f} GiB free{beside}: lower benchmark.lengths "
                         f"(or benchmark.max_length), or run with force=true to start it anyway")
    if seconds > MAX_SECONDS and not force:
        raise ValueError(f"{line}: over {MAX_SECONDS // 3600} h for one sample; lower benchmark.lengths "
                         f"(or benchmark.max_length), use a faster device, or run with force=true")
    return line


def check_fits(model, tokens: int | None, force: bool = False) -> str | None:
    """A one-line estimate; ValueError when it exceeds free memory and `force` is not set."""
    if not tokens:
        return None
    est = estimate(model, tokens)
    free, where = available_bytes(model)
    seconds = est["flops"] / flop_rate(model)
    return judge(tokens, est, seconds, free, where, True, force)
