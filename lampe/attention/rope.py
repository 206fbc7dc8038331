"""Rotary embedding at integer positions, from a cos/sin table built with float64 angles.

Region methods rotate q and k at positions far from the tokens' own; float64 angles keep long
positions exact before the table is cast to float32. Positions are integers, so one table per
model serves every layer and decoding step (it grows on demand). Fractional positions (Leaky
ReRoPE's) skip the table: their angles are computed on the spot, also in float64.
"""
from __future__ import annotations

import torch


class RopeTable:
    def __init__(self, inv_freq: torch.Tensor, scaling: float = 1.0):
        self.inv_freq = inv_freq
        self.scaling = scaling
        self.cos = self.sin = None

    def _build(self, size: int, device: torch.device) -> None:
        angles = torch.arange(size, dtype=torch.float64, device=device)[:, None] * self.inv_freq.to(
            device=device, dtype=torch.float64)
        self.cos = (angles.cos() * self.scaling).to(torch.float32)
        self.sin = (angles.sin() * self.scaling).to(torch.float32)

    def lookup(self, positions: torch.Tensor, dtype: torch.dtype = torch.float32, out=None):
        """cos, sin of shape (*positions.shape, D/2) for non-negative integer positions.

        `out`: a (cos, sin) pair of float32 buffers to fill (1-D positions), so that hot loops
        reuse memory instead of allocating.
        """
        if positions.is_floating_point():
            return self._direct(positions, dtype, out)
        needed = int(positions.max().item()) + 1 if positions.numel() else 1
        if self.cos is None or self.cos.shape[0] < needed or self.cos.device != positions.device:
            self._build(max(needed, 2 * (0 if self.cos is None else self.cos.shape[0]), 4096), positions.device)
        index = positions.clamp(min=0)
        if out is not None and dtype == torch.float32 and index.dim() == 1:
            return (torch.index_select(self.cos, 0, index, out=out[0]),
                    torch.index_select(self.sin, 0, index, out=out[1]))
        return self.cos[index].to(dtype), self.sin[index].to(dtype)

    def _direct(self, positions: torch.Tensor, dtype: torch.dtype, out=None):
        """cos, sin at fractional positions, rounded like the table (float64 angles, then float32)."""
        angles = positions.to(torch.float64)[..., None] * self.inv_freq.to(device=positions.device, dtype=torch.float64)
        cos = (angles.cos() * self.scaling).to(torch.float32).to(dtype)
        sin = (angles.sin() * self.scaling).to(torch.float32).to(dtype)
        if out is not None and dtype == torch.float32 and positions.dim() == 1:
            return out[0].copy_(cos), out[1].copy_(sin)
        return cos, sin


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate x (..., n, D) by the half-width cos/sin (..., n, D/2) of `RopeTable.lookup`.

    Same as x * cat(cos, cos) + rotate_half(x) * cat(sin, sin) (Llama's half-split layout),
    written per half to skip the temporaries; `out` (optional) receives the result.
    """
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    shape = torch.broadcast_shapes(x1.shape, cos.shape)
    if out is None:
        out = torch.empty(*shape[:-1], 2 * half, dtype=x.dtype, device=x.device)
    torch.mul(x1, cos, out=out[..., :half]).addcmul_(x2, sin, value=-1)
    torch.mul(x2, cos, out=out[..., half:]).addcmul_(x1, sin)
    return out
