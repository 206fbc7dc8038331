"""A region method is a distance rule d(i, j) for query position i and key position j <= i.

Each rule splits the (i, j) pairs into a few regions; inside region r the distance is
q_position(r, i) - k_position(r, j), so the engine can rotate queries and keys once per region
and use plain matmuls. `distance` states the same rule directly, pair by pair, for the float64
reference: tests check the two against each other.

For speed, a rule may also describe its regions as tiles (`lampe.attention.tiles`): bands of
i - j (`bands`) or its own `tiles`; the engine then runs every region without a mask. Tests check
that the tiles cover exactly the pairs `region` assigns.

All tensors are integer; i and j broadcast against each other and against the per-row context
values (shape (B, 1) or (B, 1, 1)), so one call serves a whole batch with left padding. A rule
whose positions are fractional (Leaky ReRoPE) returns float64 positions and distances.

A rule may leave pairs out of attention altogether (LM-Infinite's middle keys): `region` gives
them NO_ATTENTION and the rule sets `attends_all = False`, so every planner, decoding and the
reference skip them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from lampe.attention.tiles import Tile, band_tiles, split_tiles

MIN_TILE_ROWS = 16  # below this a thin band is cheaper with the masked planner
NO_ATTENTION = -1  # `region` of a pair the query does not attend to (rules with attends_all = False)


@dataclass
class RuleContext:
    """Per-call, per-row values a rule needs (e.g. LaMPE's prefill length). Shapes (B, 1)."""

    values: dict[str, torch.Tensor]

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.values[key]

    def rows(self, ndim: int) -> "RuleContext":
        """The same values reshaped to broadcast against tensors of `ndim` dims (batch first)."""
        return RuleContext({k: v.reshape(v.shape[0], *([1] * (ndim - 1))) for k, v in self.values.items()})

    def select(self, b: int) -> "RuleContext":
        """Row b alone, as a batch of one."""
        return RuleContext({k: v[b : b + 1] for k, v in self.values.items()})

    def row(self, b: int) -> dict[str, int]:
        """Row b's values as Python numbers, for planning tiles without tensor ops."""
        return {k: v.reshape(v.shape[0], -1)[b, 0].item() for k, v in self.values.items()}


class DistanceRule:
    num_regions: int = 1
    logit_scale: float = 1.0  # multiplies every logit (LaMPE's temperature squared)
    attends_all: bool = True  # False: `region` marks some causal pairs NO_ATTENTION
    # per-token factors: `query_scale` and `key_scale` below

    def context(self, key_pos: torch.Tensor, key_valid: torch.Tensor | None, prefill_len: torch.Tensor) -> RuleContext:
        """Per-row values; `prefill_len` (B,) counts the real tokens of the prefill."""
        return RuleContext({})

    def region(self, i: torch.Tensor, j: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
        raise NotImplementedError

    def query_position(self, r: int, i: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
        raise NotImplementedError

    def key_position(self, r: int, j: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
        raise NotImplementedError

    def distance(self, i: torch.Tensor, j: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
        raise NotImplementedError

    def query_scale(self, i: torch.Tensor, ctx: RuleContext) -> torch.Tensor | None:
        """Per-query factor on all of its logits (float64, i's shape); None: 1 everywhere.

        For scales that follow the token rather than the pair: SelfExtend's log-scaled queries,
        ChunkLlama's mscale. The logit of (i, j) is multiplied by query_scale(i) * key_scale(j).
        """
        return None

    def key_scale(self, j: torch.Tensor, ctx: RuleContext) -> torch.Tensor | None:
        """Per-key factor on all of its logits (float64, j's shape); None: 1 everywhere."""
        return None

    def bands(self, row: dict[str, int]) -> list[int] | None:
        """Edges e_1 <= e_2 <= ... when region r is exactly e_r <= i - j < e_(r+1) (e_0 = 0); else None."""
        return None

    def tiles(self, qs: int, qe: int, row: dict[str, int]) -> list[Tile] | None:
        """Mask-free tiles covering queries [qs, qe) x keys [0, i]; None: use the masked planner."""
        edges = self.bands(row)
        if edges is None:
            return None
        return split_tiles(lambda a, b: band_tiles(edges, a, b), qs, qe, MIN_TILE_ROWS)


class PlainRule(DistanceRule):
    """d = i - j: plain RoPE. The baseline every region method must equal below its window."""

    def region(self, i, j, ctx):
        return torch.zeros(torch.broadcast_shapes(i.shape, j.shape), dtype=torch.long, device=i.device)

    def query_position(self, r, i, ctx):
        return i

    def key_position(self, r, j, ctx):
        return j

    def distance(self, i, j, ctx):
        return i - j

    def bands(self, row):
        return []
