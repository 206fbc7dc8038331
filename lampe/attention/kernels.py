"""Fused attention kernels that also return the log-sum-exp, so partial results can be merged.

`attend(q, k, v, scale, mask=None, causal=False)` -> (out, lse): softmax(q k^T * scale + mask) v
over one key span, with lse = log sum exp of the same scores per query row (-inf where a row sees
no key). q is (B, Hq, n, D), k and v (B, Hkv, m, D) with Hq a multiple of Hkv (GQA: query head
h reads kv head h // (Hq / Hkv)); `mask` is boolean (n, m) or (B, Hq, n, m), True = attend;
`causal` means query u sees key t <= u (top-left aligned, as torch's is_causal).
Backends, picked per device:
  cpu   torch's own CPU flash-attention kernel (aten::_scaled_dot_product_flash_attention_for_cpu)
  cuda  torch's memory-efficient kernel with compute_log_sumexp (checked once against `math`)
  math  plain matmuls in float32 over key chunks: any device, and the fallback
"""
from __future__ import annotations

import warnings

import torch

MATH_CHUNK = 1024
NEG_INF = float("-inf")


def merge_into(out, lse, part, part_lse) -> None:
    """out (..., n, D), lse (..., n) <- the softmax over both key sets, in place, from a partial
    result over disjoint keys. Rows with no key on either side stay as they are (0, -inf).

    The new output is out + w (part - out) with w = sigmoid(part_lse - lse), the share of the
    part's keys in the total weight: one pass over out, and -inf on either side needs no case
    (w is 0 or 1; NaN only where both sides are -inf, which becomes 0).
    """
    weight = torch.sub(part_lse, lse).sigmoid_().nan_to_num_(0.0)[..., None].to(out.dtype)
    out.lerp_(part.to(out.dtype), weight)  # lerp_ does not promote: bf16 parts, bf16 outputs (GPU)
    torch.logaddexp(lse, part_lse, out=lse)


def merge_all(outs: list, lses: list):
    """Combine partial softmax results over disjoint key sets in one pass."""
    if len(outs) == 1:
        return outs[0], lses[0]
    lse = torch.stack(lses)
    total = torch.logsumexp(lse, dim=0)
    safe = total.masked_fill(total == NEG_INF, 0.0)
    weights = torch.exp(lse - safe)[..., None]
    return (torch.stack(outs) * weights).sum(0), total


def _float_mask(mask: torch.Tensor | None, dtype: torch.dtype):
    if mask is None:
        return None, None
    seen = mask.any(-1)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, NEG_INF), seen


def _with_causal(mask, n: int, m: int, device):
    """The boolean mask with the top-left causal condition folded in."""
    causal = torch.arange(m, device=device)[None, :] <= torch.arange(n, device=device)[:, None]
    return causal if mask is None else mask & causal


def attend_math(q, k, v, scale, mask=None, causal=False):
    batch, heads, n, dim = q.shape
    kv_heads, m = k.shape[1], k.shape[2]
    if causal:
        mask = _with_causal(mask, n, m, q.device)
    grouped = q.float().view(batch, kv_heads, heads // kv_heads, n, dim)  # GQA without repeating k, v
    if mask is not None and mask.dim() == 4:  # per head, or broadcast over heads
        mask = mask.unflatten(1, (kv_heads, -1)) if mask.shape[1] == heads else mask[:, :, None]
    out = lse = None
    for start in range(0, m, MATH_CHUNK):
        stop = min(start + MATH_CHUNK, m)
        scores = torch.matmul(grouped, k[:, :, None, start:stop, :].float().transpose(-1, -2)) * scale
        if mask is not None:
            scores = scores.masked_fill(~mask[..., start:stop], NEG_INF)
        chunk_lse = torch.logsumexp(scores, dim=-1)
        safe = chunk_lse.masked_fill(chunk_lse == NEG_INF, 0.0)
        chunk_out = torch.matmul(torch.exp(scores - safe[..., None]), v[:, :, None, start:stop, :].float())
        if out is None:
            out, lse = chunk_out, chunk_lse
        else:
            merge_into(out, lse, chunk_out, chunk_lse)
    return out.view(batch, heads, n, dim), lse.view(batch, heads, n)


def attend_cpu(q, k, v, scale, mask=None, causal=False):
    """torch's CPU flash kernel: GQA and top-left causal natively, returns the lse."""
    float_mask, seen = _float_mask(mask, q.dtype)
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        q, k, v, 0.0, causal, attn_mask=float_mask, scale=scale)
    if seen is not None:  # the kernel reports lse = 0 for rows that see no key
        lse = lse.masked_fill(~seen, NEG_INF)
    return out, lse


def attend_cuda(q, k, v, scale, mask=None, causal=False):
    """torch's memory-efficient CUDA kernel (is_causal is top-left); GQA by repeating this span's k, v."""
    if k.shape[1] != q.shape[1]:
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    float_mask, seen = _float_mask(mask, q.dtype)
    if float_mask is not None:  # the kernel wants the bias's rows 16-aligned: pad, pass a view
        m = k.shape[2]
        bias = torch.zeros(*q.shape[:3], m + (-m % 16), dtype=q.dtype, device=q.device)
        float_mask = bias[..., :m].copy_(float_mask.expand(*q.shape[:3], m))
    out, lse = torch.ops.aten._scaled_dot_product_efficient_attention(
        q, k, v, float_mask, True, 0.0, causal, scale=scale)[:2]
    lse = lse[..., : q.shape[-2]].float()
    if seen is not None:  # rows that see no key: 0 and -inf, as the other backends give
        out = out.masked_fill(~seen[..., None], 0.0)
        lse = lse.masked_fill(~seen, NEG_INF)
    return out, lse


BACKENDS = {"math": attend_math, "cpu": attend_cpu, "cuda": attend_cuda}
_checked: dict[str, bool] = {}


def _self_check(name: str, device: torch.device, dtype: torch.dtype) -> bool:
    """Compare a fused backend with `math` once on a small input; fall back on any mismatch."""
    key = f"{name}:{device}:{dtype}"
    if key not in _checked:
        g = torch.Generator(device="cpu").manual_seed(0)
        q, k, v = (torch.randn(1, h, n, 64, generator=g).to(device=device, dtype=dtype)
                   for h, n in ((4, 37), (2, 53), (2, 53)))
        mask = torch.rand(37, 53, generator=g).to(device) > 0.3
        mask[3] = False
        try:
            for m, causal, heads in ((None, False, 4), (mask, False, 2), (None, True, 4), (None, True, 2)):
                qh = q if heads == 4 else q[:, :2]
                out, lse = BACKENDS[name](qh, k, v, 0.125, m, causal)
                ref_out, ref_lse = attend_math(qh, k, v, 0.125, m, causal)
                tol = 1e-4 if dtype == torch.float32 else 2e-2
                ok = torch.allclose(out.float(), ref_out, atol=tol, rtol=tol) and torch.allclose(
                    lse.float().nan_to_num(neginf=-1e9), ref_lse.nan_to_num(neginf=-1e9), atol=tol, rtol=tol)
                if not ok:
                    raise RuntimeError("results differ from the math backend")
            _checked[key] = True
        except Exception as err:  # noqa: BLE001 - any failure means: do not use this kernel
            warnings.warn(f"attention backend '{name}' unusable on {device}/{dtype} ({err}); using 'math'")
            _checked[key] = False
    return _checked[key]


def pick_backend(device: torch.device, dtype: torch.dtype, requested: str | None = None):
    """The requested backend, or the device's fused one when it passes its self-check, else math."""
    if requested is not None:
        if requested not in BACKENDS:
            raise ValueError(f"Unknown attention backend '{requested}'. Available: {', '.join(BACKENDS)}")
        return BACKENDS[requested]
    name = device.type if device.type in BACKENDS else "math"
    if name != "math" and _self_check(name, device, dtype):
        return BACKENDS[name]
    return attend_math
