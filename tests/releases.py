"""Run a method's released code, read at test time from a fetched copy (never committed).

`LAMPE_RELEASES` names a folder holding each release as `<owner>/<name>/...` (a clone, or just the
files the tests read); a test whose release is not there is skipped. The release runs as a
module of its own whose imports are answered by `stubs` first (flash-attn stand-ins, modules of
the transformers version it was written for), so nothing outside that module is patched.
Also here: lampe's side of the comparison, one attention call per prefill or decoding step.
"""
from __future__ import annotations

import builtins
import math
import os
import types
from pathlib import Path

import pytest
import torch

from lampe.attention.engine import region_attention
from lampe.attention.reference import reference_attention


def release_file(repo: str, path: str) -> Path:
    root = os.environ.get("LAMPE_RELEASES")
    if not root:
        pytest.skip(f"set LAMPE_RELEASES to a folder holding {repo} as {repo}/ to run its released code")
    file = Path(root) / repo / path
    if not file.is_file():
        pytest.skip(f"{file} not found: fetch {repo} into $LAMPE_RELEASES/{repo}")
    return file


def run_release(repo: str, path: str, stubs: dict[str, object] | None = None) -> types.ModuleType:
    """Execute `path` of release `repo` as a fresh module. An import whose module name is a key of
    `stubs` (".name" for a relative import) gets that value instead."""
    file = release_file(repo, path)
    stubs = stubs or {}
    real_import = builtins.__import__

    def importer(name, globals=None, locals=None, fromlist=(), level=0):
        key = "." * level + name
        if key in stubs:
            return stubs[key]
        return real_import(name, globals, locals, fromlist, level)

    module = types.ModuleType(f"release_{file.stem}")
    module.__file__ = str(file)
    module.__dict__["__builtins__"] = {**builtins.__dict__, "__import__": importer}
    exec(compile(file.read_text(), str(file), "exec"), module.__dict__)  # noqa: S102 - a fetched release, in tests
    return module


def stub_module(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


def lampe_step(rule, q, k, v, prefill_len: int, inv_freq, reference: bool = False) -> torch.Tensor:
    """lampe's attention (or the float64 reference) of un-rotated q (1, H, Lq, D) over the first
    Lk keys, the queries being the last Lq of them; returns (1, Lq, H * D) like a release's output
    before o_proj."""
    num_queries, num_keys = q.shape[2], k.shape[2]
    key_pos = torch.arange(num_keys)[None]
    ctx = rule.context(key_pos, None, torch.tensor([prefill_len]))
    kwargs = dict(rule=rule, ctx=ctx, query_pos=key_pos[:, num_keys - num_queries:], key_pos=key_pos, key_valid=None,
                  inv_freq=inv_freq, rope_scaling=1.0, scaling=1 / math.sqrt(q.shape[-1]))
    out = (reference_attention if reference else region_attention)(q, k, v, **kwargs)
    return out.reshape(1, num_queries, -1).double()


def qkv(length: int, heads: int = 2, kv_heads: int = 2, dim: int = 16, seed: int = 0):
    """Un-rotated q, k, v (1, heads, L, dim) in float64, large enough that positions matter."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, heads, length, dim, generator=g, dtype=torch.float64) * 2
    k = torch.randn(1, kv_heads, length, dim, generator=g, dtype=torch.float64) * 2
    v = torch.randn(1, kv_heads, length, dim, generator=g, dtype=torch.float64)
    return q, k, v


def projections(q, k, v):
    """`self` attributes a release's attention forward reads, returning copies of the given q, k,
    v (rows [start, stop) via `at`) instead of projecting hidden states (releases scale q in place)."""
    heads, kv_heads, dim = q.shape[1], k.shape[1], q.shape[-1]
    flat = [t.transpose(1, 2).reshape(1, t.shape[2], -1) for t in (q, k, v)]

    def at(start, stop):
        return types.SimpleNamespace(
            q_proj=lambda h: flat[0][:, start:stop].clone(), k_proj=lambda h: flat[1][:, start:stop].clone(),
            v_proj=lambda h: flat[2][:, start:stop].clone(), o_proj=lambda x: x, num_heads=heads, head_dim=dim,
            num_key_value_heads=kv_heads, num_key_value_groups=heads // kv_heads, hidden_size=heads * dim,
            pretraining_tp=1, layer_idx=0,
        )

    return at
