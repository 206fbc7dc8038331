"""Rotary embedding at integer positions, with the angles computed in float64.

Region methods rotate q and k at positions far from the tokens' own (and sometimes negative);
float64 angles keep long positions exact before the cos/sin are cast to float32.
"""
from __future__ import annotations

import torch


def rope_cos_sin(positions: torch.Tensor, inv_freq: torch.Tensor, scaling: float = 1.0):
    """cos, sin of shape (B, 1, n, 2F) for integer `positions` (B, n) and `inv_freq` (F,)."""
    angles = positions.to(torch.float64)[..., None] * inv_freq.to(torch.float64)
    emb = torch.cat((angles, angles), dim=-1)
    cos = (emb.cos() * scaling).to(torch.float32)[:, None]
    sin = (emb.sin() * scaling).to(torch.float32)[:, None]
    return cos, sin


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (B, H, n, D) by the angles behind cos/sin (B, 1, n, D) (Llama's half-split layout)."""
    return x * cos + rotate_half(x) * sin
