"""ChunkLlama / Dual Chunk Attention (An et al. 2024): positions restart in every chunk.

s = chunk_size - local_window. Keys sit at j mod s. The query sits at i mod s for a key in its
own chunk, at min(s + i mod s, chunk_size) for a key in the previous chunk, and at
min(2s - 1, chunk_size) for older chunks (the released code looks the older-chunk query up in its
previous-chunk table at index s - 1); d = query position - key position.

Logit scale (released since March 2024): a token at position p is scaled by
mscale(max(L, p + 1) / P), mscale(x) = 0.05 ln x + 1 for x > 1 else 1, with L the prefill length
and P the model's max_position_embeddings (as released; `pretraining_length` sets the chunks
only); the logit of (i, j) by the query's factor times the key's. In a
prefill every token has mscale(L / P); while decoding each new token takes the current length, and
a cached key keeps the factor of the step that cached it.
"""
from __future__ import annotations

import torch

from lampe.attention.rules import DistanceRule, RuleContext
from lampe.attention.tiles import CAUSAL, FULL, Tile
from lampe.methods.base import PRETRAINING_LENGTH, Param
from lampe.methods.region import RegionMethod
from lampe.methods.registry import register_method


def mscale(ratio: torch.Tensor) -> torch.Tensor:
    """The released logit scale for sequence length / pretraining length `ratio` (float64)."""
    return torch.where(ratio > 1, 0.05 * ratio.clamp(min=1).log() + 1, torch.ones_like(ratio))


class ChunkRule(DistanceRule):
    num_regions = 3  # same chunk, previous chunk, older chunks

    def __init__(self, chunk_size: int, local_window: int, mscale_length: int | None = None):
        """`mscale_length`: P of the logit scale; None turns the scale off (the first release)."""
        self.chunk_size, self.local_window = chunk_size, local_window
        self.stride = chunk_size - local_window
        self.older_query = min(2 * self.stride - 1, chunk_size)
        self.mscale_length = mscale_length

    def context(self, key_pos, key_valid, prefill_len) -> RuleContext:
        return RuleContext({"length": prefill_len.long()})

    def token_factor(self, p, ctx):
        if self.mscale_length is None:
            return None
        longest = torch.maximum(ctx["length"], p + 1).to(torch.float64)
        return mscale(longest / self.mscale_length)

    query_scale = key_scale = token_factor

    def region(self, i, j, ctx):
        return (i // self.stride - j // self.stride).clamp(max=2)

    def query_position(self, r, i, ctx):
        intra = i % self.stride
        if r == 0:
            return intra
        if r == 1:
            return (intra + self.stride).clamp(max=self.chunk_size)
        return torch.full_like(i, self.older_query)

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
            torch.where(chunk_gap == 1, (s + intra).clamp(max=self.chunk_size), torch.full_like(intra, self.older_query)),
        )
        return q - j % s


@register_method
class ChunkLlama(RegionMethod):
    name = "chunkllama"
    params = (
        Param("chunk_size", int, None, low=2, doc="default: 3/4 of the pretraining length"),
        Param("local_window", int, None, low=1, doc="default: 1/8 of the pretraining length"),
        Param("mscale", bool, True, doc="logit scale 0.05 ln(L/P) + 1 past P; false: the first release"),
        PRETRAINING_LENGTH,
    )
    description = "ChunkLlama (Dual Chunk Attention): intra-, successive- and inter-chunk positions"
    length_rule = "chunk_size = 3/4 P, local_window = P / 8 (the release's values, the same at every length)"
    rule_params = ("chunk_size", "local_window")

    @staticmethod
    def chunks(window: int) -> dict[str, int]:
        """The released chunk_size and local_window for a trained window P: 3/4 P and P / 8."""
        return {"chunk_size": window * 3 // 4, "local_window": window // 8}

    @classmethod
    def published(cls, length, pretraining_length, values):
        return cls.chunks(cls.window(values, pretraining_length))

    @classmethod
    def effective_params(cls, values, length, pretraining_length):
        found = super().effective_params(values, length, pretraining_length)
        window = cls.window(values, pretraining_length)
        if window:
            for key, value in cls.chunks(window).items():
                found.setdefault(key, value)
            if found.get("mscale", cls.default("mscale")):  # the logit scale of a prefill of `length` tokens
                found["logit_scale"] = round(float(mscale(torch.tensor(length / window, dtype=torch.float64))), 6)
        return found

    def __init__(self, model, **values):
        super().__init__(model, **values)
        values = self.values  # the base keeps its own copy of the keyword arguments
        # the release builds its rotary module, and with it mscale's P, from the model config
        self.mscale_length = model.config.max_position_embeddings or self.pretraining_length
        for key, value in self.chunks(self.pretraining_length).items():
            if values[key] is None:
                values[key] = value
        if values["local_window"] < 1:
            raise ValueError(f"Invalid chunkllama.local_window={values['local_window']} (pretraining_length // 8 with "
                             f"pretraining_length={self.pretraining_length}): give local_window >= 1")
        if values["local_window"] >= values["chunk_size"]:
            raise ValueError(
                f"Invalid chunkllama.local_window={values['local_window']}: must be below chunk_size={values['chunk_size']}"
            )

    def rule(self) -> ChunkRule:
        v = self.values
        return ChunkRule(v["chunk_size"], v["local_window"], self.mscale_length if v["mscale"] else None)
