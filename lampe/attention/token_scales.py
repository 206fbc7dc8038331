"""Per-token logit factors (`DistanceRule.query_scale` / `key_scale`) without touching the planners.

The logit of (i, j) is multiplied by query_scale(i) * key_scale(j). Three cases:
  - every query and key of the call has the same factor (a prefill of one length, the common
    case): the product folds into the kernel's scalar scale, exact and free;
  - a single new query (decoding): the key factors fold into the per-step key rotation and the
    query factor into the query (`engine._decode`), both in float32;
  - otherwise (rows of different lengths, SelfExtend's per-position query scale): q and k are
    multiplied by their factors before planning, in their own dtype, as the released code does.
"""
from __future__ import annotations

import torch

from lampe.attention.rules import DistanceRule, RuleContext


def token_scales(rule: DistanceRule, ctx: RuleContext, query_pos, key_pos, memo: dict | None):
    """(query factors (B, Lq), key factors (B, Lk)) in float32, or None when the rule has none.

    Computed once per forward pass (`memo`): the factors depend on positions only.
    """
    if memo is not None and "token_scales" in memo:
        return memo["token_scales"]
    ctx2 = ctx.rows(2)
    sq, sk = rule.query_scale(query_pos, ctx2), rule.key_scale(key_pos, ctx2)
    scales = None
    if sq is not None or sk is not None:
        sq = torch.ones(query_pos.shape, dtype=torch.float32, device=query_pos.device) if sq is None else sq
        sk = torch.ones(key_pos.shape, dtype=torch.float32, device=key_pos.device) if sk is None else sk
        scales = (sq.to(torch.float32), sk.to(torch.float32))
    if memo is not None:
        memo["token_scales"] = scales
    return scales


def uniform_factor(scales, key_valid, memo: dict | None = None) -> float | None:
    """query factor * key factor when every query shares one factor and every real key another;
    None otherwise. Once per forward pass (`memo`)."""
    if memo is not None and "token_factor" in memo:
        return memo["token_factor"]
    factor = _uniform(scales, key_valid)
    if memo is not None:
        memo["token_factor"] = factor
    return factor


def _uniform(scales, key_valid) -> float | None:
    sq, sk = scales
    if key_valid is not None:
        sk = sk[key_valid]
    if sk.numel() == 0:
        return None
    q_lo, q_hi = sq.aminmax()
    k_lo, k_hi = sk.aminmax()
    if bool(q_lo != q_hi) or bool(k_lo != k_hi):
        return None
    return float(q_lo) * float(k_lo)


def scale_inputs(q: torch.Tensor, k: torch.Tensor, scales):
    """q (B, Hq, Lq, D) and k (B, Hkv, Lk, D) multiplied by their per-position factors."""
    sq, sk = scales
    q = (q.float() * sq[:, None, :, None]).to(q.dtype)
    k = (k.float() * sk[:, None, :, None]).to(k.dtype)
    return q, k
