"""Multi-region attention: any DistanceRule, fused kernels, O(L) memory.

Per batch row and block of queries, the keys are split by region and each part runs through a
fused kernel that also returns its log-sum-exp, so the parts merge exactly (flash-attention
style). Planners:
  tiled   (`tiled.py`) when the rule describes its regions as tiles and the row's real tokens
          are contiguous (no padding or left padding): no masks at all, the common case;
  masked  (`masked_planner.py`) otherwise: any monotone rule and any padding.
No tensor of size L x L exists; GQA never repeats K/V on CPU.

On a GPU, prefill takes a third planner (`flex_planner.py`): one flex_attention call per region
over the whole input, since many small kernel calls would leave the chip idle.

A single new query (decoding) takes the short path: the query stays at position 0 and every
key is rotated to -d(i, j), so one kernel call covers all regions; the rotation is computed once
per step and shared by all layers (`memo`).

With gradients wanted (q, k or v require grad, grad mode on) every call takes `grad_path.py`:
out-of-place ops that autograd differentiates, at eager attention's memory.
"""
from __future__ import annotations

import warnings

import torch

from lampe.attention import flex_planner
from lampe.attention.grad_path import grad_attention, wants_grad
from lampe.attention.job import AttentionJob
from lampe.attention.kernels import pick_backend
from lampe.attention.masked_planner import MaskedRow
from lampe.attention.rope import RopeTable, rotate
from lampe.attention.rules import NO_ATTENTION, DistanceRule, RuleContext
from lampe.attention.tiled import TiledRow
from lampe.attention.token_scales import scale_inputs, token_scales, uniform_factor
from lampe.attention.workspace import Workspace

PLANNERS = (None, "flex", "tiled", "masked")
_FLEX_BROKEN: list[str] = []
BLOCK_Q = 1024  # queries per block: each key is rotated once per block (kernel calls take tiled.CALL_ROWS of them)


def compute_dtype(q: torch.Tensor) -> torch.dtype:
    """The kernels' dtype: a half-precision model's own on CUDA (float16, bfloat16) and for
    bfloat16 on CPU (its flash kernel accumulates in float32, and CPUs with AVX512-BF16 run it about
    twice as fast: a bf16 model's stock SDPA does the same); float32 otherwise. Rotation tables are
    float32-accurate either way, and q, k are rotated in this dtype as the stock model rotates them."""
    if q.dtype == torch.bfloat16 or (q.is_cuda and q.dtype == torch.float16):
        return q.dtype
    return torch.float32


def region_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    rule: DistanceRule,
    ctx: RuleContext,
    query_pos: torch.Tensor,
    key_pos: torch.Tensor,
    key_valid: torch.Tensor | None,
    inv_freq: torch.Tensor,
    rope_scaling: float,
    scaling: float,
    block_q: int | None = None,
    rope_table: RopeTable | None = None,
    backend: str | None = None,
    memo: dict | None = None,
    planner: str | None = None,
    workspace: Workspace | None = None,
) -> torch.Tensor:
    """Attention of un-rotated q (B, Hq, Lq, D) over un-rotated k, v (B, Hkv, Lk, D).

    Queries are the last Lq cache slots (causal in cache order); `query_pos` (B, Lq) and
    `key_pos` (B, Lk) are token positions, `key_valid` (B, Lk) marks real (non-padding) keys.
    `planner` forces "flex", "tiled" or "masked"; by default flex on CUDA, else tiled wherever it
    applies and masked elsewhere.
    `workspace` holds scratch buffers; a model passes the same one to every layer and step.
    Returns (B, Lq, Hq, D) like transformers' attention functions.
    """
    batch, num_heads, num_queries, head_dim = q.shape
    num_kv_heads, num_keys = k.shape[1], k.shape[2]
    compute = compute_dtype(q)
    scales = token_scales(rule, ctx, query_pos, key_pos, memo)
    factor = 1.0  # one per-token factor product for the whole call (`token_scales.py`)
    if wants_grad(q, k, v):  # attributions, adapters: a path autograd can follow
        if scales is not None:
            factor = uniform_factor(scales, key_valid, memo)
            if factor is None:
                q, k, factor = *scale_inputs(q, k, scales), 1.0
        return grad_attention(q, k, v, rule=rule, ctx=ctx, query_pos=query_pos, key_pos=key_pos, key_valid=key_valid,
                              table=rope_table or RopeTable(inv_freq, rope_scaling), scale=scaling * rule.logit_scale * factor,
                              compute=compute)
    if scales is not None and num_queries > 1:
        factor = uniform_factor(scales, key_valid, memo)
        if factor is None:
            q, k, factor = *scale_inputs(q, k, scales), 1.0
        scales = None
    base_scale = scaling * rule.logit_scale
    job = AttentionJob(  # what every kernel call of this attention call shares
        rule=rule, table=rope_table or RopeTable(inv_freq, rope_scaling), attend=pick_backend(q.device, compute, backend),
        scale=base_scale * factor, base_scale=base_scale, factor=factor, compute=compute,
        group=num_heads // num_kv_heads, offset=num_keys - num_queries, workspace=workspace or Workspace(),
    )
    if num_queries == 1:
        return _decode(job, q, k, v, ctx, query_pos, key_pos, key_valid, memo, scales)
    if planner not in PLANNERS:
        raise ValueError(f"Unknown planner '{planner}'. Available: {', '.join(p for p in PLANNERS if p)}")
    if planner == "flex" or (planner is None and q.is_cuda and _flex_usable()):
        try:
            return flex_planner.flex_attention_all(job, q, k, v, ctx, query_pos, key_pos, key_valid, memo)
        except Exception as err:  # noqa: BLE001 - a compiler failure must not end a long evaluation
            if planner == "flex":
                raise
            warnings.warn(f"flex_attention failed on {q.device} ({err}); using the tiled planner from now on")
            _FLEX_BROKEN.append(str(err))
    out = torch.zeros(batch, num_queries, num_heads, head_dim, dtype=q.dtype, device=q.device)
    block_q = block_q or BLOCK_Q
    for b in range(batch):
        pad = None if planner == "masked" else _left_padding(b, query_pos, key_pos, key_valid)
        tiled = None if pad is None else TiledRow(job, b, q, k, v, ctx, pad)
        masked = None
        if tiled is None:
            masked = MaskedRow(job, b, q, k, v, ctx, query_pos, key_pos, key_valid)
        first = masked.first_real_query() if tiled is None else max(job.offset, pad) - job.offset
        for qs in range(first, num_queries, block_q):  # query slots before `first` are padding: zeros
            qe = min(qs + block_q, num_queries)
            target = out[b, qs:qe].transpose(0, 1)  # (Hq, n, D) view of the output
            if tiled is not None and tiled.block(qs + tiled.first_pos, qe + tiled.first_pos, target):
                continue
            if planner == "tiled":
                raise ValueError(f"{type(rule).__name__} has no tiles for this input")
            masked = masked or MaskedRow(job, b, q, k, v, ctx, query_pos, key_pos, key_valid)
            target.copy_(masked.block(qs, qe))
    return out


def _flex_usable() -> bool:
    return not _FLEX_BROKEN and flex_planner.available()


def _left_padding(b, query_pos, key_pos, key_valid) -> int | None:
    """Row b's number of leading padding slots when its real tokens are contiguous with positions
    0, 1, ... (what tiles assume); None otherwise."""
    num_keys = key_pos.shape[1]
    pad = 0
    if key_valid is not None:
        pad = num_keys - int(key_valid[b].sum())
        if not bool(key_valid[b, pad:].all()):
            return None
    expected = torch.arange(num_keys - pad, device=key_pos.device)
    if not torch.equal(key_pos[b, pad:], expected):
        return None
    queries = query_pos.shape[1]
    real = min(queries, num_keys - pad)  # query slots inside the padding are not looked at
    if not torch.equal(query_pos[b, queries - real:], expected[num_keys - pad - real:]):
        return None
    return pad


def _decode(job, q, k, v, ctx, query_pos, key_pos, key_valid, memo, scales):
    """One query per row: keys rotated by -d, the query un-rotated, one kernel call for the batch.

    `scales` (query, key factors, `token_scales.py`): the key factors join the key rotation.
    """
    batch, num_heads, _, head_dim = q.shape
    if memo is not None and "decode_rotation" in memo:  # memo lives for one forward pass
        cos, sin = memo["decode_rotation"]
    else:
        d = job.rule.distance(query_pos[:, -1:], key_pos, ctx.rows(2))  # (B, Lk)
        cos, sin = job.table.lookup(d.abs(), job.compute)
        sin = sin * (-torch.sign(d)).to(job.compute)[..., None]  # rotate keys to position -d
        if scales is not None:
            key_factor = scales[1].to(job.compute)[..., None]
            cos, sin = cos * key_factor, sin * key_factor
        cos, sin = cos[:, None], sin[:, None]
        if memo is not None:
            memo["decode_rotation"] = (cos, sin)
    keys = rotate(k.to(job.compute), cos, sin, out=job.workspace.get("decode.keys", k.shape, job.compute, k.device))
    queries = q.to(job.compute).reshape(batch, k.shape[1], job.group, head_dim) * job.table.scaling  # grouped rows
    if scales is not None:
        queries = queries * scales[0][:, -1, None, None, None].to(job.compute)
    mask = None if key_valid is None else key_valid[:, None, None, :]
    if not job.rule.attends_all:  # pairs the rule leaves out (LM-Infinite's middle keys)
        attended = job.rule.region(query_pos[:, -1:], key_pos, ctx.rows(2)) != NO_ATTENTION
        mask = attended[:, None, None, :] if mask is None else mask & attended[:, None, None, :]
    if q.is_cuda:  # one call covers every region: no log-sum-exp needed, so torch's own dispatch
        out = torch.nn.functional.scaled_dot_product_attention(queries, keys, v.to(job.compute), attn_mask=mask,
                                                               scale=job.scale)
    else:
        out, _ = job.attend(queries, keys, v.to(job.compute), job.scale, mask)
    return out.reshape(batch, 1, num_heads, head_dim).to(q.dtype)
