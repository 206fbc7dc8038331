"""Where the GPU time of region attention goes (`device` runs): one layer at 32k, bf16.

Times flash SDPA, flex_attention with a plain causal mask, the engine with plain RoPE (one
region: rotations + one flex pass) and each benchmark rule; then a torch.profiler kernel table
of one LaMPE call. Separates flex_attention's own cost from the engine's around it.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lampe.attention.engine import region_attention  # noqa: E402
from lampe.attention.rope import RopeTable  # noqa: E402
from lampe.attention.rules import PlainRule  # noqa: E402
from scripts.bench_attention import SHAPES, make_rule  # noqa: E402


def cuda_ms(fn, repeats=20) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main(shape="smollm2", length=32768):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    heads, kv_heads, dim = SHAPES[shape]
    q = torch.randn(1, heads, length, dim, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(1, kv_heads, length, dim, device="cuda", dtype=torch.bfloat16)
    v = torch.randn_like(k)
    scale = dim**-0.5

    def flash():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True,
                                                                    scale=scale)

    causal = create_block_mask(lambda b, h, i, j: j <= i, 1, None, length, length, device="cuda", _compile=True)
    flex = torch.compile(flex_attention)
    base = cuda_ms(flash)
    print(f"{shape} {length}: flash SDPA {base:.3f} ms", flush=True)
    print(f"  flex, plain causal mask        {cuda_ms(lambda: flex(q, k, v, block_mask=causal, enable_gqa=True)):.3f} ms")
    positions = torch.arange(length, device="cuda")[None]
    inv_freq = 1.0 / (1e5 ** (torch.arange(0, dim, 2, dtype=torch.float32, device="cuda") / dim))
    table = RopeTable(inv_freq)
    calls = {}
    for name in ("plain", "self_extend", "lampe_two_region", "lampe"):
        rule = make_rule(name, length) if name != "plain" else PlainRule()
        ctx = rule.context(positions, None, torch.tensor([length], device="cuda"))
        memo = {}

        def call(rule=rule, ctx=ctx, memo=memo):
            return region_attention(q, k, v, rule=rule, ctx=ctx, query_pos=positions, key_pos=positions,
                                    key_valid=None, inv_freq=inv_freq, rope_scaling=1.0, scaling=scale,
                                    rope_table=table, memo=memo)

        calls[name] = call
        ms = cuda_ms(call)
        print(f"  engine {name:22} {ms:.3f} ms ({ms / base:.2f}x)", flush=True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            calls["lampe"]()
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=14, max_name_column_width=60))


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["smollm2"]), *[int(n) for n in sys.argv[2:3]])
