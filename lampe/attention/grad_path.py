"""Region attention that autograd can differentiate: attributions, or an adapter trained on top.

The engine's planners write into reused buffers and merge partial softmaxes in place, which
autograd refuses ("functions with out=... arguments don't support automatic differentiation");
the fused kernels' log-sum-exp has no gradient either. When q, k or v need a gradient the engine
takes this path instead: per block of queries, each region's scores from q and k rotated at that
region's positions (out-of-place ops only), the rule's region map picking each pair's score, one
softmax over all keys. It holds heads x block x keys scores at a time, like eager attention.
"""
from __future__ import annotations

import torch

from lampe.attention.rope import RopeTable
from lampe.attention.rules import NO_ATTENTION, DistanceRule, RuleContext

BLOCK_Q = 256  # queries per block: bounds the score matrix


def wants_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """`rope.rotate` without `out=`: Llama's half-split rotation, differentiable."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


def grad_attention(q, k, v, *, rule: DistanceRule, ctx: RuleContext, query_pos, key_pos, key_valid,
                   table: RopeTable, scale: float, compute: torch.dtype, block_q: int = BLOCK_Q) -> torch.Tensor:
    """Same contract as `engine.region_attention` (un-rotated q (B, Hq, Lq, D), k and v (B, Hkv, Lk, D),
    queries in the last Lq slots); returns (B, Lq, Hq, D) in q's dtype."""
    batch, heads, num_queries, dim = q.shape
    num_keys = k.shape[2]
    group = heads // k.shape[1]
    offset = num_keys - num_queries
    ctx2, ctx3 = ctx.rows(2), ctx.rows(3)
    keys = k.to(compute).repeat_interleave(group, dim=1)
    values = v.to(compute).repeat_interleave(group, dim=1)
    queries = q.to(compute)
    slots = torch.arange(num_keys, device=q.device)
    rotated_keys = {}
    outs = []
    for qs in range(0, num_queries, block_q):
        qe = min(qs + block_q, num_queries)
        positions = query_pos[:, qs:qe]
        allowed = (slots[None, :] <= torch.arange(offset + qs, offset + qe, device=q.device)[:, None])[None]
        if key_valid is not None:
            allowed = allowed & key_valid[:, None, :]
        region = rule.region(positions[:, :, None], key_pos[:, None, :], ctx3)  # (B, n, Lk)
        allowed = allowed & (region != NO_ATTENTION)  # pairs a rule leaves out (LM-Infinite's middle)
        scores = torch.zeros(batch, heads, qe - qs, num_keys, dtype=compute, device=q.device)
        for r in range(rule.num_regions):
            chosen = (region == r) & allowed
            if not bool(chosen.any()):
                continue
            if r not in rotated_keys:
                cos, sin = table.lookup(rule.key_position(r, key_pos, ctx2), compute)
                rotated_keys[r] = rotate(keys, cos[:, None], sin[:, None])
            cos, sin = table.lookup(rule.query_position(r, positions, ctx2), compute)
            part = rotate(queries[:, :, qs:qe], cos[:, None], sin[:, None]) @ rotated_keys[r].transpose(-1, -2)
            scores = torch.where(chosen[:, None], part, scores)
        seen = allowed.any(-1)[:, None, :, None]  # rows with no key (padding) give zeros, not NaN
        scores = (scores * scale).masked_fill(~allowed[:, None], float("-inf")).masked_fill(~seen, 0.0)
        probs = torch.softmax(scores, dim=-1) * seen
        outs.append(probs @ values)
    return torch.cat(outs, dim=2).transpose(1, 2).to(q.dtype)
