"""The engine on a GPU against the float64 reference: every planner, both dtypes (`device` runs).

CI has no GPU, so the CUDA code paths (flex_attention compiled by Triton, the efficient-attention
kernel of the tiled planner and of decoding) are checked here, on the test rules and inputs of
`tests/`, plus the benchmark's real-size rules at 3,000 tokens against the tiled planner on CPU.
Prints one line per case and exits non-zero if any error exceeds its tolerance.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lampe.attention import kernels, rules  # noqa: E402
from lampe.attention.engine import region_attention  # noqa: E402
from lampe.attention.reference import reference_attention  # noqa: E402
from scripts.bench_attention import make_rule  # noqa: E402
from tests.region_cases import RULES  # noqa: E402
from tests.test_engine import INV_FREQ, inputs  # noqa: E402

TOLERANCE = {torch.float32: 5e-3, torch.bfloat16: 5e-2}


def case(name, rule, planner, dtype, num_queries, failures):
    q, k, v, key_valid, key_pos = inputs(num_queries=num_queries)
    ctx = rule.context(key_pos, key_valid, key_valid.sum(-1) - (num_queries - 1 if num_queries < 5 else 0))
    kwargs = dict(rule=rule, query_pos=key_pos[:, key_pos.shape[1] - num_queries:], key_pos=key_pos,
                  key_valid=key_valid, inv_freq=INV_FREQ, rope_scaling=1.0, scaling=0.25)
    ref = reference_attention(q, k, v, ctx=ctx, **kwargs)
    gpu = {key: t.cuda() for key, t in kwargs.items() if isinstance(t, torch.Tensor)}
    ctx_gpu = type(ctx)({key: value.cuda() for key, value in ctx.values.items()})
    out = region_attention(q.cuda().to(dtype), k.cuda().to(dtype), v.cuda().to(dtype), ctx=ctx_gpu,
                           **{**kwargs, **gpu}, block_q=32, planner=None if num_queries == 1 else planner)
    real = key_valid[:, -num_queries:, None, None].expand_as(ref)
    err = (out.double().cpu()[real] - ref[real]).abs().max().item()
    ok = err <= TOLERANCE[dtype]
    print(f"{name:17} {planner:6} {str(dtype):15} queries {num_queries:3}  max error {err:.2e}  "
          f"{'ok' if ok else 'FAIL'}", flush=True)
    if not ok:
        failures.append((name, planner, dtype, num_queries))


def real_size(method, failures, length=3000):
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, h, length, 64, generator=g) for h in (9, 3, 3))
    rule = make_rule(method, length)
    pos = torch.arange(length)[None]
    inv = 1.0 / (1e5 ** (torch.arange(0, 64, 2, dtype=torch.float32) / 64))
    common = dict(rule=rule, query_pos=pos, key_pos=pos, key_valid=None, rope_scaling=1.0, scaling=0.125)
    cpu = region_attention(q, k, v, ctx=rule.context(pos, None, torch.tensor([length])), inv_freq=inv,
                           **common, planner="tiled")
    pos_gpu = pos.cuda()
    common.update(query_pos=pos_gpu, key_pos=pos_gpu)
    for dtype in TOLERANCE:
        out = region_attention(q.cuda().to(dtype), k.cuda().to(dtype), v.cuda().to(dtype),
                               ctx=rule.context(pos_gpu, None, torch.tensor([length]).cuda()), inv_freq=inv.cuda(),
                               **common)
        err = (out.float().cpu() - cpu).abs().max().item()
        ok = err <= TOLERANCE[dtype]
        print(f"{method:17} default {str(dtype):15} {length} tokens vs CPU tiled  max error {err:.2e}  "
              f"{'ok' if ok else 'FAIL'}", flush=True)
        if not ok:
            failures.append((method, "default", dtype, length))


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device")
        return 2
    print(torch.__version__, torch.cuda.get_device_name(), flush=True)
    warnings.showwarning = lambda message, *rest: print(f"WARNING: {message}", flush=True)
    rules.MIN_TILE_ROWS = 1  # tiles even for the test rules' narrow bands, as tests/ do
    for dtype in TOLERANCE:
        fused = kernels.pick_backend(torch.device("cuda"), dtype) is kernels.attend_cuda
        print(f"tiled planner's CUDA kernel for {dtype}: {'fused' if fused else 'math fallback'}", flush=True)
    failures = []
    for name, rule in sorted(RULES.items()):
        for planner in ("flex", "tiled"):
            for dtype in TOLERANCE:
                case(name, rule, planner, dtype, 157, failures)
        for dtype in TOLERANCE:
            case(name, rule, "decode", dtype, 1, failures)
    for method in ("self_extend", "chunkllama", "lampe", "lampe_two_region"):
        real_size(method, failures)
    print(f"{len(failures)} failures: {failures}" if failures else "all CUDA checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
