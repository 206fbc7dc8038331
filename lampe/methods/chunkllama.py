"""ChunkLlama / Dual Chunk Attention (An et al. 2024): positions restart in every chunk.

s = chunk_size - local_window. Keys sit at j mod s. The query sits at i mod s for a key in its
own chunk, at min(s + i mod s, chunk_size) for a key in the previous chunk, and at chunk_size
for older chunks; d = query position - key position.
"""
from __future__ import annotations

import torch

from lampe.attention.hook import install_region_rule
from lampe.attention.rules import DistanceRule
from lampe.attention.tiles import CAUSAL, FULL, Tile
from lampe.methods.base import PRETRAINING_LENGTH, Method, Param
from lampe.methods.registry import register_method


class ChunkRule(DistanceRule):
    num_regions = 3  # same chunk, previous chunk, older chunks

    def __init__(self, chunk_size: int, local_window: int):
        self.chunk_size, self.local_window = chunk_size, local_window
        self.stride = chunk_size - local_window

    def region(self, i, j, ctx):
        return (i // self.stride - j // self.stride).clamp(max=2)

    def query_position(self, r, i, ctx):
        intra = i % self.stride
        if r == 0:
            return intra
        if r == 1:
            return (intra + self.stride).clamp(max=self.chunk_size)
        return torch.full_like(i, self.chunk_size)

    def key_position(self, r, j, ctx):
        return j % self.stride

    def tiles(self, qs, qe, row):
        """Per query chunk c: its own chunk (diagonal + rectangle), chunk c - 1, older chunks."""
        s, tiles = self.stride, []
        start = qs
        while start < qe:
            c = start // s
            stop = min(qe, (c + 1) * s)
            tiles.append(Tile(0, CAUSAL, start, stop, start, stop))
            if c * s < start:
                tiles.append(Tile(0, FULL, start, stop, c * s, start))
            if c >= 1:
                tiles.append(Tile(1, FULL, start, stop, (c - 1) * s, c * s))
            if c >= 2:
                tiles.append(Tile(2, FULL, start, stop, 0, (c - 1) * s))
            start = stop
        return tiles

    def distance(self, i, j, ctx):
        s = self.stride
        intra = i % s
        chunk_gap = i // s - j // s
        q = torch.where(
            chunk_gap == 0, intra,
            torch.where(chunk_gap == 1, (s + intra).clamp(max=self.chunk_size), torch.full_like(intra, self.chunk_size)),
        )
        return q - j % s


@register_method
class ChunkLlama(Method):
    name = "chunkllama"
    params = (
        Param("chunk_size", int, None, low=2, doc="default: 3/4 of the pretraining length"),
        Param("local_window", int, 128, low=1),
        PRETRAINING_LENGTH,
    )
    description = "ChunkLlama (Dual Chunk Attention): intra-, successive- and inter-chunk positions"

    def __init__(self, model, **values):
        super().__init__(model, **values)
        if values["chunk_size"] is None:
            values["chunk_size"] = self.pretraining_length * 3 // 4
        if values["local_window"] >= values["chunk_size"]:
            raise ValueError(
                f"Invalid chunkllama.local_window={values['local_window']}: must be below chunk_size={values['chunk_size']}"
            )

    def apply(self, model) -> None:
        install_region_rule(model, ChunkRule(self.values["chunk_size"], self.values["local_window"]))
