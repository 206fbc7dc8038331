"""Float64 dense attention from an explicit distance per (query, key) pair: slow and plain.

The score of query i and key j at distance d is q_i . R(d) k_j, expanded per frequency f as
cos(d w_f) (q1.k1 + q2.k2) + sin(d w_f) (q1.k2 - q2.k1). This is a different computation from
the engine's (which rotates q and k separately per region), so agreement tests both.
Materializes (B, H, Lq, Lk, F): for tests and docs only.
"""
from __future__ import annotations

import torch

from lampe.attention.rules import NO_ATTENTION, DistanceRule, RuleContext


def reference_attention(
    q, k, v, *, rule: DistanceRule, ctx: RuleContext, query_pos, key_pos, key_valid, inv_freq,
    rope_scaling: float, scaling: float,
) -> torch.Tensor:
    """Same contract as `engine.region_attention`; returns (B, Lq, Hq, D) in float64."""
    q, k, v = (t.to(torch.float64) for t in (q, k, v))
    batch, num_heads, num_queries, head_dim = q.shape
    num_keys = k.shape[2]
    group = num_heads // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)

    dist = rule.distance(query_pos[:, :, None], key_pos[:, None, :], ctx.rows(3))  # (B, Lq, Lk)
    q_index = torch.arange(num_keys - num_queries, num_keys)[:, None]
    allowed = (torch.arange(num_keys)[None, :] <= q_index)[None].expand(batch, -1, -1)
    if key_valid is not None:
        allowed = allowed & key_valid[:, None, :]
    if not rule.attends_all:
        allowed = allowed & (rule.region(query_pos[:, :, None], key_pos[:, None, :], ctx.rows(3)) != NO_ATTENTION)

    half = head_dim // 2
    q1, q2, k1, k2 = q[..., :half], q[..., half:], k[..., :half], k[..., half:]
    same = torch.einsum("bhif,bhjf->bhijf", q1, k1) + torch.einsum("bhif,bhjf->bhijf", q2, k2)
    cross = torch.einsum("bhif,bhjf->bhijf", q1, k2) - torch.einsum("bhif,bhjf->bhijf", q2, k1)
    angle = dist[:, None, :, :, None].to(torch.float64) * inv_freq.to(torch.float64)
    scores = (angle.cos() * same + angle.sin() * cross).sum(-1)
    scores = scores * (rope_scaling**2) * scaling * rule.logit_scale
    q_factor = rule.query_scale(query_pos, ctx.rows(2))  # per-token factors, applied pair by pair
    k_factor = rule.key_scale(key_pos, ctx.rows(2))
    if q_factor is not None:
        scores = scores * q_factor.to(torch.float64)[:, None, :, None]
    if k_factor is not None:
        scores = scores * k_factor.to(torch.float64)[:, None, None, :]
    scores = scores.masked_fill(~allowed[:, None], float("-inf"))
    probs = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # fully masked (padding) rows -> 0
    return torch.matmul(probs, v).transpose(1, 2)
