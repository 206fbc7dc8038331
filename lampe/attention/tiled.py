"""Runs a rule's tiles (`lampe.attention.tiles`) for one batch row: fused kernels, no masks.

Per query block: the queries are rotated once per region; each tile rotates its keys (FULL tiles
in chunks of KEY_CHUNK, which bounds the temporaries) and makes one kernel call, whose output
and log-sum-exp are merged in place into the block's accumulator. FULL tiles run in grouped-row
layout (queries of one KV head stacked: GQA without repeating K/V); CAUSAL tiles use the
kernel's causal flag; ANTI tiles are CAUSAL on reversed queries and keys.
Needs the row's real tokens to be contiguous with positions 0, 1, ... (no padding, or left
padding), which the engine checks.
"""
from __future__ import annotations

import torch

from lampe.attention.kernels import merge_into
from lampe.attention.rope import rotate
from lampe.attention.rules import RuleContext
from lampe.attention.tiles import ANTI, CAUSAL, FULL, refine

KEY_CHUNK = 2048  # keys per FULL kernel call: bounds the rotated-key buffer (memory target 1.2x SDPA)
TRIANGLE_ROWS = 256  # larger CAUSAL/ANTI tiles are split (`tiles.refine`): the kernel pays their whole square


class TiledRow:
    def __init__(self, job, b: int, q, k, v, ctx: RuleContext, pad: int):
        self.job = job
        self.q = q[b : b + 1]
        self.k = k[b : b + 1, :, pad:]
        self.v = v[b : b + 1, :, pad:]
        self.row = ctx.row(b)
        self.ctx2 = ctx.select(b).rows(2)
        self.first_pos = k.shape[2] - q.shape[2] - pad  # token position of query slot 0
        _, self.heads, _, self.dim = q.shape
        self.kv_heads = k.shape[1]

    def block(self, ps: int, pe: int, target: torch.Tensor) -> bool:
        """Queries at positions [ps, pe) over all their keys, written into target (Hq, n, D).

        Returns False (target untouched) when the rule has no tiles here.
        """
        tiles = self.job.rule.tiles(ps, pe, self.row)
        if tiles is None:
            return False
        tiles = refine(tiles, TRIANGLE_ROWS)
        # per region, a tile over all rows first: the accumulator starts as a copy of its output
        tiles.sort(key=lambda t: (t.region, (t.qs, t.qe) != (ps, pe)))
        in_place = target.dtype == self.job.compute  # else accumulate in float32, cast at the end
        acc = _Accumulator(target if in_place else None, self.kv_heads, self.heads // self.kv_heads, pe - ps)
        region, queries = None, None
        for tile in tiles:
            if tile.region != region:
                queries = None  # free the previous region's queries first
                region, queries = tile.region, self.rotated_queries(tile.region, ps, pe)
            rows = queries[:, :, tile.qs - ps : tile.qe - ps]
            if tile.kind == FULL:
                grouped = rows.reshape(1, self.kv_heads, -1, self.dim)
                for cs in range(tile.ks, tile.ke, KEY_CHUNK):
                    ce = min(cs + KEY_CHUNK, tile.ke)
                    out, lse = self.job.attend(grouped, self.rotated_keys(region, cs, ce), self.values(cs, ce),
                                               self.job.scale)
                    acc.add(tile.qs - ps, tile.qe - ps, out, lse)
            elif tile.kind == CAUSAL:
                out, lse = self.job.attend(rows, self.rotated_keys(region, tile.ks, tile.ke),
                                           self.values(tile.ks, tile.ke), self.job.scale, None, True)
                acc.add(tile.qs - ps, tile.qe - ps, out, lse)
            else:
                assert tile.kind == ANTI
                out, lse = self.job.attend(rows.flip(2), self.rotated_keys(region, tile.ks, tile.ke).flip(2),
                                           self.values(tile.ks, tile.ke).flip(2), self.job.scale, None, True)
                acc.add(tile.qs - ps, tile.qe - ps, out.flip(2), lse.flip(2))
        if not in_place:
            target.copy_(acc.out.reshape(self.heads, pe - ps, self.dim))
        return True

    def rotated_queries(self, region: int, ps: int, pe: int) -> torch.Tensor:
        positions = self.job.rule.query_position(region, torch.arange(ps, pe, device=self.q.device)[None], self.ctx2)
        slots = self.q[:, :, ps - self.first_pos : pe - self.first_pos]
        return self.rotate(slots, positions[0], "queries")

    def rotated_keys(self, region: int, ks: int, ke: int) -> torch.Tensor:
        positions = self.job.rule.key_position(region, torch.arange(ks, ke, device=self.k.device)[None], self.ctx2)
        return self.rotate(self.k[:, :, ks:ke], positions[0], "keys")

    def rotate(self, x: torch.Tensor, positions: torch.Tensor, name: str) -> torch.Tensor:
        """x (1, H, n, D) rotated at positions (n,), into reusable buffers (`workspace.py`)."""
        n, half = positions.shape[0], self.dim // 2
        cos, sin = self.job.table.lookup(positions, self.job.compute,
                                         out=(self.buffer(name + ".cos", (n, half)), self.buffer(name + ".sin", (n, half))))
        return rotate(x.to(self.job.compute), cos, sin, out=self.buffer(name, (1, x.shape[1], n, self.dim)))

    def buffer(self, name: str, shape: tuple) -> torch.Tensor:
        return self.job.workspace.get(name, shape, self.job.compute, self.q.device)

    def values(self, ks: int, ke: int) -> torch.Tensor:
        return self.v[:, :, ks:ke].to(self.job.compute)


class _Accumulator:
    """Softmax-normalized output and log-sum-exp of a query block, merged tile by tile in place.

    Viewed as (1, Hkv, group, n, D): both kernel layouts (grouped rows and per-head) view into
    it. With a target (the block's slice of the attention output) it accumulates right there.
    """

    def __init__(self, target: torch.Tensor | None, kv_heads: int, group: int, n: int):
        self.shape = (1, kv_heads, group, n)
        self.target = None if target is None else target.view(*self.shape, target.shape[-1])
        self.out = self.lse = None

    def add(self, a: int, b: int, out: torch.Tensor, lse: torch.Tensor) -> None:
        kv_heads, group = self.shape[1], self.shape[2]
        out = out.view(1, kv_heads, group, b - a, out.shape[-1])
        lse = lse.view(1, kv_heads, group, b - a)
        if self.out is None:
            whole = (a, b) == (0, self.shape[3])
            if self.target is not None:
                self.out = self.target.copy_(out) if whole else self.target.zero_()
            elif whole:
                self.out = out
            else:
                self.out = torch.zeros(*self.shape, out.shape[-1], dtype=out.dtype, device=out.device)
            self.lse = lse if whole else torch.full(self.shape, float("-inf"), dtype=lse.dtype, device=lse.device)
            if whole:
                return
        merge_into(self.out[:, :, :, a:b], self.lse[:, :, :, a:b], out, lse)
