"""Blockwise multi-region attention with an online softmax: any DistanceRule, O(L) memory.

For each query block and key block we find the regions present, rotate that query block and
key block at the region's positions (computed once per block and region), take one matmul per
region, pick each score from its own region, and fold the block into a running log-sum-exp
(flash-attention style). Nothing of size L x L exists; GQA shares each K/V block across its
query-head group without repeating it.
"""
from __future__ import annotations

import torch

from lampe.attention.rope import rope_cos_sin, rotate
from lampe.attention.rules import DistanceRule, RuleContext

BLOCK_Q = 512
BLOCK_K = 1024


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
    block_k: int | None = None,
) -> torch.Tensor:
    """Attention of un-rotated q (B, Hq, Lq, D) over un-rotated k, v (B, Hkv, Lk, D).

    Queries are the last Lq cache slots (causal in cache order); `query_pos` (B, Lq) and
    `key_pos` (B, Lk) are token positions, `key_valid` (B, Lk) marks real (non-padding) keys.
    Returns (B, Lq, Hq, D) like transformers' attention functions.
    """
    block_q, block_k = block_q or BLOCK_Q, block_k or BLOCK_K
    batch, num_heads, num_queries, head_dim = q.shape
    num_kv_heads, num_keys = k.shape[1], k.shape[2]
    group = num_heads // num_kv_heads
    offset = num_keys - num_queries
    compute = torch.float32
    scale = scaling * rule.logit_scale
    ctx2, ctx3 = ctx.rows(2), ctx.rows(3)
    regions = range(rule.num_regions)
    out = torch.empty(batch, num_kv_heads, group, num_queries, head_dim, dtype=q.dtype, device=q.device)
    q_grouped = q.view(batch, num_kv_heads, group, num_queries, head_dim)

    for qs in range(0, num_queries, block_q):
        qe = min(qs + block_q, num_queries)
        nq = qe - qs
        i = query_pos[:, qs:qe]
        q_blk = q_grouped[:, :, :, qs:qe].to(compute)
        q_rot: dict[int, torch.Tensor] = {}
        row_max = torch.full((batch, num_kv_heads, group * nq, 1), float("-inf"), dtype=compute, device=q.device)
        row_sum = torch.zeros_like(row_max)
        acc = torch.zeros(batch, num_kv_heads, group * nq, head_dim, dtype=compute, device=q.device)
        q_index = torch.arange(offset + qs, offset + qe, device=q.device)

        for ks in range(0, offset + qe, block_k):
            ke = min(ks + block_k, offset + qe)
            nk = ke - ks
            j = key_pos[:, ks:ke]
            allowed = None
            if ke - 1 > offset + qs:  # block crosses the causal diagonal
                allowed = (torch.arange(ks, ke, device=q.device)[None, :] <= q_index[:, None])[None]
            if key_valid is not None:
                valid = key_valid[:, None, ks:ke]
                allowed = valid if allowed is None else allowed & valid
            region = rule.region(i[:, :, None], j[:, None, :], ctx3) if rule.num_regions > 1 else None
            present = list(regions)
            if region is not None:
                counted = region if allowed is None else region.masked_fill(~allowed, rule.num_regions)
                counts = torch.bincount(counted.flatten(), minlength=rule.num_regions + 1)
                present = [r for r in regions if counts[r] > 0] or [0]

            k_blk = k[:, :, ks:ke].to(compute)
            scores = None  # (B, Hkv, G, nq, nk)
            for r in present:
                if r not in q_rot:
                    cos, sin = rope_cos_sin(rule.query_position(r, i, ctx2), inv_freq, rope_scaling)
                    q_rot[r] = rotate(q_blk, cos[:, :, None], sin[:, :, None]).reshape(
                        batch, num_kv_heads, group * nq, head_dim
                    )
                cos, sin = rope_cos_sin(rule.key_position(r, j, ctx2), inv_freq, rope_scaling)
                s = torch.matmul(q_rot[r], rotate(k_blk, cos, sin).transpose(-1, -2))
                s = s.view(batch, num_kv_heads, group, nq, nk)
                scores = s if scores is None else torch.where((region == r)[:, None, None], s, scores)
            scores = scores * scale
            if allowed is not None:
                scores = scores.masked_fill(~allowed[:, None, None], float("-inf"))
            scores = scores.view(batch, num_kv_heads, group * nq, nk)

            new_max = torch.maximum(row_max, scores.amax(dim=-1, keepdim=True))
            safe_max = new_max.masked_fill(new_max == float("-inf"), 0.0)
            probs = torch.exp(scores - safe_max)
            correction = torch.exp(row_max - safe_max)
            row_sum = row_sum * correction + probs.sum(dim=-1, keepdim=True)
            acc = acc * correction + torch.matmul(probs, v[:, :, ks:ke].to(compute))
            row_max = new_max

        blk = acc / row_sum.masked_fill(row_sum == 0, 1.0)
        out[:, :, :, qs:qe] = blk.view(batch, num_kv_heads, group, nq, head_dim).to(q.dtype)

    return out.view(batch, num_heads, num_queries, head_dim).transpose(1, 2).contiguous()
