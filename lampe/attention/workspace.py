"""Named scratch tensors reused across kernel calls, layers and decoding steps.

Rotated queries and keys are temporaries of a few MB made hundreds of times per forward; fresh
allocations of that size are page-faulted in again every time (and fragment the heap). A model
keeps one Workspace (in its RegionBinding), so the hot loops allocate nothing after the first
layer. It holds at most one buffer per name: a few times one layer's keys in float32.
"""
from __future__ import annotations

import math

import torch


class Workspace:
    def __init__(self):
        self._buffers: dict[tuple, torch.Tensor] = {}

    def get(self, name: str, shape: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """An uninitialized tensor of `shape`, backed by the buffer `name` (grown when too small)."""
        numel = math.prod(shape)
        key = (name, dtype, torch.device(device))
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < numel:
            self._buffers.pop(key, None)  # free the old one before allocating the larger
            buf = self._buffers[key] = torch.empty(numel, dtype=dtype, device=device)
        return buf[:numel].view(shape)
