"""The general planner: any monotone DistanceRule, any padding, masks on boundary strips.

For one batch row and one block of queries, every key falls in one of three cases:
  pure   all queries of the block put it in the same region r and may all see it: rotate the
         queries and that key span at region r's positions and run one fused kernel call;
  mixed  near a region boundary or the causal diagonal (a strip about as wide as the block):
         re-planned in small query sub-blocks, for which most of the strip is pure again, and
         the rest takes one masked kernel call per region present;
  skip   padding.
Regions must be monotone in the query position for a fixed key (every rule here is: they are
bands of i - j or chunk gaps), so the first and last query of a block bound all others. Rows in
grouped layout: (1, Hkv, group * n, D), so GQA needs no repeated K/V. The engine uses this
planner where tiles (`lampe.attention.tiles`) do not apply: rules without tiles, thin bands,
padding that is not a left prefix.
"""
from __future__ import annotations

import torch

from lampe.attention.kernels import merge_all
from lampe.attention.rope import rotate
from lampe.attention.rules import NO_ATTENTION

SUB_Q = 128  # mixed key spans are re-planned in query sub-blocks of this size
KEY_CHUNK = 4096  # keys per kernel call: bounds the rotated-key temporaries
MIXED, SKIP = -1, -2


class MaskedRow:
    """One batch row: plans key spans per query block and runs the kernel calls."""

    def __init__(self, job, b, q, k, v, ctx, query_pos, key_pos, key_valid):
        self.job = job
        self.b = b
        _, heads, self.num_queries, self.head_dim = q.shape
        self.kv_heads = k.shape[1]
        self.q = q[b : b + 1].to(job.compute).view(1, self.kv_heads, job.group, self.num_queries, self.head_dim)
        self.k = k[b : b + 1]
        self.v = v[b : b + 1]
        row_ctx = ctx.select(b)
        self.ctx2 = row_ctx.rows(2)
        self.ctx3 = row_ctx.rows(3)
        self.query_pos = query_pos[b : b + 1]
        self.key_pos = key_pos[b : b + 1]
        self.key_valid = None if key_valid is None else key_valid[b]

    def first_real_query(self) -> int:
        """Left padding: the query slots before the first real token produce zeros."""
        if self.key_valid is None:
            return 0
        valid = self.key_valid[self.job.offset:]
        n = int(valid.sum())
        return self.num_queries - n if bool(valid[self.num_queries - n:].all()) else 0

    def block(self, qs: int, qe: int) -> torch.Tensor:
        """Queries [qs, qe) (slot indices) over all their keys: (Hq, n, D) float32."""
        self.rotated_q = {}
        self.block_start, self.block_len = qs, qe - qs
        out, _ = self.span(qs, qe, 0, self.job.offset + qe)
        return out.reshape(-1, qe - qs, self.head_dim)

    def labels(self, qs: int, qe: int, ks: int, ke: int) -> torch.Tensor:
        """Per key in [ks, ke): the region all queries in [qs, qe) agree on, MIXED, or SKIP."""
        job = self.job
        j = self.key_pos[:, ks:ke]
        first = job.rule.region(self.query_pos[:, qs : qs + 1], j, self.ctx2)[0]
        last = job.rule.region(self.query_pos[:, qe - 1 : qe], j, self.ctx2)[0]
        label = torch.where(first == last, first, torch.full_like(first, MIXED))
        label = label.masked_fill((first == last) & (first == NO_ATTENTION), SKIP)  # a region nobody attends
        diagonal = max(job.offset + qs + 1 - ks, 0)  # keys past the first query: causal mask needed
        label[diagonal:] = MIXED
        future = max(job.offset + qe - ks, 0)  # keys past the last query: nobody sees them
        label[future:] = SKIP
        if self.key_valid is not None:
            label = label.masked_fill(~self.key_valid[ks:ke], SKIP)
        return label

    def span(self, qs: int, qe: int, ks: int, ke: int):
        """(out, lse) of queries [qs, qe) over keys [ks, ke), grouped-row layout."""
        label = self.labels(qs, qe, ks, ke)
        starts = [0] + (torch.nonzero(label[1:] != label[:-1]).flatten() + 1).tolist()
        kinds = label[torch.tensor(starts, device=label.device)].tolist()
        outs, lses = [], []
        for start, stop, kind in zip(starts, starts[1:] + [label.shape[0]], kinds):
            start, stop = start + ks, stop + ks
            if kind == SKIP:
                continue
            if kind != MIXED:
                for cs in range(start, stop, KEY_CHUNK):
                    self.call(kind, qs, qe, cs, min(cs + KEY_CHUNK, stop), None, outs, lses)
            elif qe - qs > SUB_Q:  # re-plan the strip in small query blocks: mostly pure again
                parts = [self.span(p, min(p + SUB_Q, qe), start, stop) for p in range(qs, qe, SUB_Q)]
                outs.append(self.cat_rows([o for o, _ in parts], qe - qs))
                lses.append(self.cat_rows([l[..., None] for _, l in parts], qe - qs)[..., 0])
            else:
                self.masked(qs, qe, start, stop, outs, lses)
        if not outs:
            shape = (1, self.kv_heads, self.job.group * (qe - qs))
            return (torch.zeros(*shape, self.head_dim, device=self.q.device),
                    torch.full(shape, float("-inf"), device=self.q.device))
        return merge_all(outs, lses)

    def cat_rows(self, parts, nq):
        """Concatenate grouped-row results of consecutive query sub-blocks."""
        group = self.job.group
        split = [p.view(1, self.kv_heads, group, -1, p.shape[-1]) for p in parts]
        return torch.cat(split, dim=3).view(1, self.kv_heads, group * nq, parts[0].shape[-1])

    def call(self, region, qs, qe, ks, ke, mask, outs, lses) -> None:
        o, lse = self.job.attend(self.rotated_queries(region, qs, qe), self.rotated_keys(region, ks, ke),
                                 self.v[:, :, ks:ke].to(self.job.compute), self.job.scale, mask)
        outs.append(o.float())
        lses.append(lse.float())

    def rotated_queries(self, region: int, qs: int, qe: int) -> torch.Tensor:
        """Rotate the whole top-level block once per region; sub-blocks slice it."""
        if region not in self.rotated_q:
            bs, be = self.block_start, self.block_start + self.block_len
            positions = self.job.rule.query_position(region, self.query_pos[:, bs:be], self.ctx2)[0]
            cos, sin = self.job.table.lookup(positions, self.job.compute)
            self.rotated_q[region] = rotate(self.q[:, :, :, bs:be], cos, sin)
        rotated = self.rotated_q[region][:, :, :, qs - self.block_start : qe - self.block_start]
        return rotated.reshape(1, self.kv_heads, self.job.group * (qe - qs), self.head_dim)

    def rotated_keys(self, region: int, start: int, stop: int) -> torch.Tensor:
        positions = self.job.rule.key_position(region, self.key_pos[:, start:stop], self.ctx2)[0]
        cos, sin = self.job.table.lookup(positions, self.job.compute)
        return rotate(self.k[:, :, start:stop].to(self.job.compute), cos, sin)

    def masked(self, qs, qe, start, stop, outs, lses) -> None:
        """A narrow strip near a boundary or the diagonal: one masked kernel call per region present."""
        job = self.job
        region = job.rule.region(self.query_pos[:, qs:qe, None], self.key_pos[:, None, start:stop], self.ctx3)[0]
        allowed = torch.arange(start, stop, device=region.device)[None, :] <= torch.arange(
            job.offset + qs, job.offset + qe, device=region.device)[:, None]
        if self.key_valid is not None:
            allowed = allowed & self.key_valid[start:stop][None, :]
        for r in range(job.rule.num_regions):
            mask = (region == r) & allowed
            if not bool(mask.any()):
                continue
            mask = mask[None].expand(job.group, -1, -1).reshape(job.group * (qe - qs), stop - start)
            self.call(r, qs, qe, start, stop, mask, outs, lses)
