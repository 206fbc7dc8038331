"""Runs a rule's tiles (`lampe.attention.tiles`) for one batch row: fused kernels, no masks.

Per query block: the queries are rotated once per region; each FULL tile rotates its keys in
chunks of KEY_CHUNK (which bounds the temporaries) and every chunk serves the tile's rows in
kernel calls of CALL_ROWS queries, so a block of 2 x CALL_ROWS rotates each key half as often
while a kernel's output stays one call's size. Outputs and log-sum-exps are merged in place into
the block's slice of the attention output. Rotated queries are laid out (Hkv, rows, group, D):
any run of rows is then one grouped-row view (queries of one KV head stacked: GQA without
repeating K/V) for FULL tiles; CAUSAL tiles use the kernel's causal flag per head, ANTI tiles
are CAUSAL on reversed queries and keys.
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
CALL_ROWS = 512  # queries per FULL kernel call: bounds the kernel's output temporary
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
        self.cached = None  # (region, ks, ke, rotated keys): the last key chunk rotated

    def block(self, ps: int, pe: int, target: torch.Tensor) -> bool:
        """Queries at positions [ps, pe) over all their keys, written into target (Hq, n, D).

        Returns False (target untouched) when the rule has no tiles here.
        """
        tiles = self.job.rule.tiles(ps, pe, self.row)
        if tiles is None:
            return False
        tiles = refine(tiles, TRIANGLE_ROWS)
        tiles.sort(key=lambda t: (t.region, t.ks))  # in key order, small tiles share rotated key chunks
        in_place = target.dtype == self.job.compute  # else accumulate in float32, cast at the end
        acc = _Accumulator(target if in_place else None, self.kv_heads, self.heads // self.kv_heads, pe - ps,
                           self.dim, self.job.compute, target.device)
        region, queries = None, None
        for tile in tiles:
            if tile.region != region:
                queries = None  # free the previous region's queries first
                region, queries = tile.region, self.rotated_queries(tile.region, ps, pe)
            a, b = tile.qs - ps, tile.qe - ps
            if tile.kind == FULL:
                for cs in range(tile.ks, tile.ke, KEY_CHUNK):
                    ce = min(cs + KEY_CHUNK, tile.ke)
                    keys, values = self.rotated_keys(region, cs, ce), self.values(cs, ce)
                    for rs in range(a, b, CALL_ROWS):
                        re = min(rs + CALL_ROWS, b)
                        grouped = queries[:, :, rs:re].flatten(2, 3)  # a view: (1, Hkv, rows * group, D)
                        out, lse = self.job.attend(grouped, keys, values, self.job.scale)
                        acc.add_grouped(rs, re, out, lse)
                continue
            rows = queries[:, :, a:b].transpose(2, 3).reshape(1, self.heads, b - a, self.dim)  # per head
            keys, values = self.rotated_keys(region, tile.ks, tile.ke), self.values(tile.ks, tile.ke)
            if tile.kind == CAUSAL:
                out, lse = self.job.attend(rows, keys, values, self.job.scale, None, True)
                acc.add_heads(a, b, out, lse)
            else:
                assert tile.kind == ANTI
                out, lse = self.job.attend(rows.flip(2), keys.flip(2), values.flip(2), self.job.scale, None, True)
                acc.add_heads(a, b, out.flip(2), lse.flip(2))
        if not in_place:
            target.copy_(acc.out.reshape(self.heads, pe - ps, self.dim))
        return True

    def rotated_queries(self, region: int, ps: int, pe: int) -> torch.Tensor:
        """Queries at positions [ps, pe) rotated for `region`, laid out (1, Hkv, n, group, D)."""
        positions = self.job.rule.query_position(region, torch.arange(ps, pe, device=self.q.device)[None], self.ctx2)
        slots = self.q[:, :, ps - self.first_pos : pe - self.first_pos]
        n, group = pe - ps, self.heads // self.kv_heads
        by_row = slots.view(1, self.kv_heads, group, n, self.dim).transpose(2, 3)
        return self.rotate(by_row, positions[0], "queries", (n, 1))

    def rotated_keys(self, region: int, ks: int, ke: int) -> torch.Tensor:
        """Keys [ks, ke) rotated for `region`: a view into the last rotated chunk when it holds
        them, else a new chunk [ks, ks + KEY_CHUNK) is rotated (clipped at the row's last key), so
        a triangle's refined pieces and its neighbours cost one rotation, not one per tile. The
        view is valid until the next call."""
        if self.cached is not None:
            r, cs, ce, keys = self.cached
            if r == region and cs <= ks and ke <= ce:
                return keys[:, :, ks - cs : ke - cs]
        ce = min(max(ke, ks + KEY_CHUNK), self.k.shape[2])
        positions = self.job.rule.key_position(region, torch.arange(ks, ce, device=self.k.device)[None], self.ctx2)
        keys = self.rotate(self.k[:, :, ks:ce], positions[0], "keys", (ce - ks,))
        self.cached = (region, ks, ce, keys)
        return keys[:, :, : ke - ks]

    def rotate(self, x: torch.Tensor, positions: torch.Tensor, name: str, table_shape: tuple) -> torch.Tensor:
        """x (1, H, n, ..., D) rotated at positions (n,) into a reusable buffer (`workspace.py`);
        `table_shape` is how cos/sin broadcast against x's dims after H: (n,) or (n, 1)."""
        n, half = positions.shape[0], self.dim // 2
        cos, sin = self.job.table.lookup(positions, self.job.compute,
                                         out=(self.buffer(name + ".cos", (n, half)), self.buffer(name + ".sin", (n, half))))
        cos, sin = cos.view(*table_shape, half), sin.view(*table_shape, half)
        return rotate(x.to(self.job.compute), cos, sin, out=self.buffer(name, x.shape))

    def buffer(self, name: str, shape: tuple) -> torch.Tensor:
        return self.job.workspace.get(name, shape, self.job.compute, self.q.device)

    def values(self, ks: int, ke: int) -> torch.Tensor:
        return self.v[:, :, ks:ke].to(self.job.compute)


class _Accumulator:
    """Softmax-normalized output and log-sum-exp of a query block, merged call by call in place.

    Held as (1, Hkv, group, n, D), the layout of the attention output's slice (or a float32
    buffer where the output has another dtype); starts empty (0, -inf), so the first result a
    row receives is merged in like any other (weight 1).
    """

    def __init__(self, target, kv_heads: int, group: int, n: int, dim: int, dtype, device):
        shape = (1, kv_heads, group, n)
        self.out = (torch.empty(*shape, dim, dtype=dtype, device=device) if target is None
                    else target.view(*shape, dim)).zero_()
        self.lse = torch.full(shape, float("-inf"), dtype=torch.float32, device=device)
        self.kv_heads, self.group = kv_heads, group

    def add_grouped(self, a: int, b: int, out: torch.Tensor, lse: torch.Tensor) -> None:
        """A kernel result in grouped-row layout (1, Hkv, rows * group, D), rows [a, b) of the block."""
        out = out.view(1, self.kv_heads, b - a, self.group, out.shape[-1]).transpose(2, 3)
        # contiguous like the block's lse: the elementwise lse ops (logaddexp above all) are not
        # vectorized on strided inputs and took half of each merge's time
        lse = lse.view(1, self.kv_heads, b - a, self.group).transpose(2, 3).contiguous()
        merge_into(self.out[:, :, :, a:b], self.lse[:, :, :, a:b], out, lse)

    def add_heads(self, a: int, b: int, out: torch.Tensor, lse: torch.Tensor) -> None:
        """A kernel result per head (1, Hq, rows, D), rows [a, b) of the block."""
        out = out.view(1, self.kv_heads, self.group, b - a, out.shape[-1])
        lse = lse.view(1, self.kv_heads, self.group, b - a)
        merge_into(self.out[:, :, :, a:b], self.lse[:, :, :, a:b], out, lse)
