"""One flex_attention pass per region over the whole input: the GPU planner.

On a GPU the tiled planner's many small kernel calls (a block of queries at a time) leave most
of the chip idle. Here each region is a single call of torch's `flex_attention`: queries and keys
rotated once at the region's positions, a block-sparse mask built from the rule's own `region`
(plus causal order and padding) so key blocks outside the region cost nothing, and the
log-sum-exp to merge the regions exactly. The work is about one causal pass, plus the key blocks
a region boundary crosses. Masks and rotation tables depend only on positions, so they are built
once per forward pass and shared by every layer (`memo`).

Any rule, any padding. On CUDA both the mask builder and the attention are compiled (Triton); on
CPU they run eagerly, which materializes scores: that mode is for tests only.
"""
from __future__ import annotations

import warnings

import torch

from lampe.attention.kernels import merge_into
from lampe.attention.rope import rotate

_compiled: dict[str, object] = {}
COMPILE_MASKS = {"cuda": True}  # by device type: compiled mask building never holds the L x L mask


def available() -> bool:
    try:
        from torch.nn.attention import flex_attention  # noqa: F401
    except ImportError:
        return False
    return True


def _flex(device: torch.device):
    """flex_attention(q, k, v, mask, scale, gqa) -> (out, lse): compiled on CUDA, eager elsewhere."""
    from torch.nn.attention import flex_attention as module

    key = "cuda" if device.type == "cuda" else "eager"
    if key not in _compiled:
        if key == "cuda":
            _allow_recompiles()
        kernel = torch.compile(module.flex_attention) if key == "cuda" else module.flex_attention
        if hasattr(module, "AuxRequest"):  # torch >= 2.9; return_lse is deprecated there
            def call(q, k, v, mask, scale, gqa):
                out, aux = kernel(q, k, v, block_mask=mask, scale=scale, enable_gqa=gqa,
                                  return_aux=module.AuxRequest(lse=True))
                return out, aux.lse
        else:
            def call(q, k, v, mask, scale, gqa):
                return kernel(q, k, v, block_mask=mask, scale=scale, enable_gqa=gqa, return_lse=True)
        _compiled[key] = call
    return _compiled[key]


def _allow_recompiles(limit: int = 64) -> None:
    """Each rule type, head size and (once) a new length compiles its own mask and kernel; past
    dynamo's default limit of 8 it would fall back to eager flex_attention, which holds L x L scores."""
    import torch._dynamo

    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), limit))


def _region_mask(rule, r: int, ctx, query_pos, key_pos, key_valid, offset: int, device):
    """BlockMask of the pairs in region r: query slot qi sees key slot kj <= qi + offset."""
    from torch.nn.attention.flex_attention import create_block_mask

    values = {name: value.reshape(-1) for name, value in ctx.values.items()}
    region = torch.tensor(r, device=device)  # a tensor, not a constant: one compiled mask for all regions

    def mask_mod(b, h, qi, kj):
        row = type(ctx)({name: value[b] for name, value in values.items()})
        keep = (kj <= qi + offset) & (rule.region(query_pos[b, qi], key_pos[b, kj], row) == region)
        if key_valid is not None:
            keep = keep & key_valid[b, kj]
        return keep

    batch, num_queries, num_keys = query_pos.shape[0], query_pos.shape[1], key_pos.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_block_mask(mask_mod, batch, None, num_queries, num_keys, device=device,
                                 _compile=COMPILE_MASKS.get(device.type, False))


def _plan(job, ctx, query_pos, key_pos, key_valid, memo):
    """Per region: (block mask, query cos/sin, key cos/sin); cached in `memo` for the forward pass."""
    if memo is not None and "flex.plan" in memo:
        return memo["flex.plan"]
    device, ctx2 = query_pos.device, ctx.rows(2)
    plan = []
    for r in range(job.rule.num_regions):
        mask = _region_mask(job.rule, r, ctx, query_pos, key_pos, key_valid, job.offset, device)
        q_cos, q_sin = job.table.lookup(job.rule.query_position(r, query_pos, ctx2), job.compute)
        k_cos, k_sin = job.table.lookup(job.rule.key_position(r, key_pos, ctx2), job.compute)
        plan.append((mask, q_cos[:, None], q_sin[:, None], k_cos[:, None], k_sin[:, None]))
    if memo is not None:
        memo["flex.plan"] = plan
    return plan


def flex_attention_all(job, q, k, v, ctx, query_pos, key_pos, key_valid, memo) -> torch.Tensor:
    """Same contract as `engine.region_attention` for prefill; returns (B, Lq, Hq, D)."""
    flex = _flex(q.device)
    q_c, k_c, v_c = q.to(job.compute), k.to(job.compute), v.to(job.compute)
    if job.factor != 1.0:  # a per-length factor (ChunkLlama's mscale) goes into q: a new scale would recompile
        q_c = q_c * job.factor
    out = lse = None
    for mask, q_cos, q_sin, k_cos, k_sin in _plan(job, ctx, query_pos, key_pos, key_valid, memo):
        with warnings.catch_warnings():  # eager mode (CPU tests) warns that it is unfused
            warnings.simplefilter("ignore")
            part, part_lse = flex(rotate(q_c, q_cos, q_sin), rotate(k_c, k_cos, k_sin), v_c, mask, job.base_scale,
                                  job.group > 1)
        if out is None:
            out, lse = part.float(), part_lse.float()
        else:
            merge_into(out, lse, part, part_lse.float())
    return out.transpose(1, 2).to(q.dtype)
