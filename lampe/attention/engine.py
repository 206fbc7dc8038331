"""Multi-region attention: any DistanceRule, fused kernels, O(L) memory.

For one batch row and one block of queries, every key falls in one of three cases:
  pure   all queries of the block put it in the same region r and may all see it: rotate the
         queries and that key span at region r's positions and run one fused kernel call;
  mixed  near a region boundary or the causal diagonal (a strip about as wide as the block):
         re-planned in small query sub-blocks, for which most of the strip is pure again, and
         the rest takes one masked kernel call per region present;
  skip   padding.
Each call returns its log-sum-exp, and the partial results merge exactly (flash-attention
style). Regions must be monotone in the query position for a fixed key (every rule here is:
they are bands of i - j or chunk gaps), so the first and last query of a block bound all others.
No tensor of size L x L exists; GQA runs as grouped rows against shared K/V (no repeat).

A single new query (decoding) takes the short path: the query stays at position 0 and every
key is rotated to -d(i, j), so one kernel call covers all regions; the rotation is computed once
per step and shared by all layers (`memo`).
"""
from __future__ import annotations

from types import SimpleNamespace

import torch

from lampe.attention.kernels import merge_all, pick_backend
from lampe.attention.rope import RopeTable, rotate
from lampe.attention.rules import DistanceRule, RuleContext

BLOCK_Q = 512  # queries per top-level block: larger blocks rotate each key span fewer times
SUB_Q = 128  # mixed key spans are re-planned in query sub-blocks of this size
KEY_CHUNK = 4096  # keys per kernel call: bounds the rotated-key temporaries
MIXED, SKIP = -1, -2


def region_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    rule: DistanceRule,
    ctx: RuleContext,
    query_pos: torch.Tensor,
    key_pos: torch.Tensor,
    key_valid: torch.Tensor | None,
    inv_freq: torch.Tensor,
    rope_scaling: float,
    scaling: float,
    block_q: int | None = None,
    rope_table: RopeTable | None = None,
    backend: str | None = None,
    memo: dict | None = None,
) -> torch.Tensor:
    """Attention of un-rotated q (B, Hq, Lq, D) over un-rotated k, v (B, Hkv, Lk, D).

    Queries are the last Lq cache slots (causal in cache order); `query_pos` (B, Lq) and
    `key_pos` (B, Lk) are token positions, `key_valid` (B, Lk) marks real (non-padding) keys.
    Returns (B, Lq, Hq, D) like transformers' attention functions.
    """
    batch, num_heads, num_queries, head_dim = q.shape
    num_kv_heads, num_keys = k.shape[1], k.shape[2]
    on_gpu_half = q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)
    compute = q.dtype if on_gpu_half else torch.float32
    job = SimpleNamespace(  # what every kernel call of this attention call shares
        rule=rule, table=rope_table or RopeTable(inv_freq, rope_scaling), attend=pick_backend(q.device, compute, backend),
        scale=scaling * rule.logit_scale, compute=compute, group=num_heads // num_kv_heads,
        offset=num_keys - num_queries,
    )
    if num_queries == 1:
        return _decode(job, q, k, v, ctx, query_pos, key_pos, key_valid, memo)
    out = torch.zeros(batch, num_queries, num_heads, head_dim, dtype=q.dtype, device=q.device)
    block_q = block_q or BLOCK_Q
    for b in range(batch):
        row = _Row(job, b, q, k, v, ctx, query_pos, key_pos, key_valid)
        first = row.first_real_query()
        for qs in range(first, num_queries, block_q):
            qe = min(qs + block_q, num_queries)
            row.rotated_q = {}
            row.block_start = qs
            row.block_len = qe - qs
            o, _ = row.span(qs, qe, 0, job.offset + qe)
            out[b, qs:qe] = o.view(num_heads, qe - qs, head_dim).transpose(0, 1).to(q.dtype)
    return out


def _decode(job, q, k, v, ctx, query_pos, key_pos, key_valid, memo):
    """One query per row: keys rotated by -d, the query un-rotated, one kernel call for the batch."""
    batch, num_heads, _, head_dim = q.shape
    num_kv_heads = k.shape[1]
    if memo is not None and "decode_rotation" in memo:  # memo lives for one forward pass
        cos, sin = memo["decode_rotation"]
    else:
        d = job.rule.distance(query_pos[:, -1:], key_pos, ctx.rows(2))  # (B, Lk)
        cos, sin = job.table.lookup(d.abs(), job.compute)
        sin = sin * (-torch.sign(d)).to(job.compute)[..., None]  # rotate keys to position -d
        cos, sin = cos[:, None], sin[:, None]
        if memo is not None:
            memo["decode_rotation"] = (cos, sin)
    keys = rotate(k.to(job.compute), cos, sin)
    queries = q.to(job.compute).reshape(batch, num_kv_heads, job.group, head_dim) * job.table.scaling
    mask = None if key_valid is None else key_valid[:, None, None, :]
    out, _ = job.attend(queries, keys, v.to(job.compute), job.scale, mask)
    return out.reshape(batch, 1, num_heads, head_dim).to(q.dtype)


class _Row:
    """One batch row: plans key spans per query block and runs the kernel calls."""

    def __init__(self, job, b, q, k, v, ctx, query_pos, key_pos, key_valid):
        self.job = job
        self.b = b
        _, heads, self.num_queries, self.head_dim = q.shape
        self.kv_heads = k.shape[1]
        self.q = q[b : b + 1].to(job.compute).view(1, self.kv_heads, job.group, self.num_queries, self.head_dim)
        self.k = k[b : b + 1]
        self.v = v[b : b + 1]
        values = {name: value[b : b + 1] for name, value in ctx.values.items()}
        self.ctx2 = RuleContext(values).rows(2)
        self.ctx3 = RuleContext(values).rows(3)
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

    def labels(self, qs: int, qe: int, ks: int, ke: int) -> torch.Tensor:
        """Per key in [ks, ke): the region all queries in [qs, qe) agree on, MIXED, or SKIP."""
        job = self.job
        j = self.key_pos[:, ks:ke]
        first = job.rule.region(self.query_pos[:, qs : qs + 1], j, self.ctx2)[0]
        last = job.rule.region(self.query_pos[:, qe - 1 : qe], j, self.ctx2)[0]
        label = torch.where(first == last, first, torch.full_like(first, MIXED))
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
