"""Refuse a forward pass that cannot fit in memory, before it starts.

`lengths=[200000]` on a CPU would start a forward that runs for hours and swaps the machine.
From the loaded model's shape and the longest prompt the benchmark asks for, estimate what a
prefill holds at once: the weights, the KV cache of every layer, one layer's activations and
(with eager attention) one layer's score matrix. That is a lower bound, not a profile. When it
exceeds the memory the device has free, the run is refused with the numbers; `force=true` starts
it anyway. The compute is reported too (floating-point operations, and the time they take at the
speed of a matmul measured on the device: again a lower bound); a sample that would take over an
hour even so also needs `force=true`, so a run of hours is a choice, not a surprise.
"""
from __future__ import annotations

GIB = 2**30
MAX_SECONDS = 3600  # one sample's lower-bound time beyond which a run needs force=true


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
    """Bytes a prefill of `tokens` tokens holds at once (lower bound), and its multiply-adds."""
    config = model.config
    param = next(model.parameters())
    width = param.element_size()
    hidden = config.hidden_size
    layers = config.num_hidden_layers
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    inter = getattr(config, "intermediate_size", None) or 4 * hidden
    params = sum(p.numel() for p in model.parameters())
    weights = params * width
    kv_cache = 2 * layers * tokens * kv_heads * head_dim * width
    activations = tokens * (4 * hidden + 3 * inter + (heads + 2 * kv_heads) * head_dim) * width
    eager = getattr(config, "_attn_implementation", None) == "eager"
    scores = heads * tokens * tokens * width if eager else 0
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
            import torch

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
    import time

    import torch

    param = next(model.parameters())
    size = model.config.hidden_size
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


def check_fits(model, tokens: int | None, force: bool = False) -> str | None:
    """A one-line estimate; ValueError when it exceeds free memory and `force` is not set."""
    if not tokens:
        return None
    est = estimate(model, tokens)
    free, where = available_bytes(model)
    seconds = est["flops"] / flop_rate(model)
    line = (f"a {tokens}-token forward holds at least {est['total'] / GIB:.1f} GiB (weights "
            f"{est['weights'] / GIB:.1f}, KV cache {est['kv_cache'] / GIB:.1f}, activations "
            f"{est['activations'] / GIB:.1f}, attention scores {est['scores'] / GIB:.1f}) and "
            f"{est['flops'] / 1e12:.1f} TFLOP per sample (at this device's matmul speed, at least "
            f"{_duration(seconds)})")
    if free is not None and est["total"] - est["weights"] > free and not force:
        raise ValueError(f"{line}, but {where} has {free / GIB:.1f} GiB free beside the loaded weights: lower "
                         f"benchmark.lengths (or benchmark.max_length), or run with force=true to start it anyway")
    if seconds > MAX_SECONDS and not force:
        raise ValueError(f"{line}: over {MAX_SECONDS // 3600} h for one sample; lower benchmark.lengths "
                         f"(or benchmark.max_length), use a faster device, or run with force=true")
    return line
