"""Tiles: the exact cover of a query block's causal keys by region, with no mask.

A tile is one kernel call's worth of (query, key) pairs, all in one region, in one of three
shapes a fused kernel serves without a mask:
  FULL    every query in [qs, qe) sees every key in [ks, ke)
  CAUSAL  query i sees key j when j - ks <= i - qs   (the kernel's own top-left causal flag)
  ANTI    query i sees key j when ke - j <= qe - i   (CAUSAL after reversing queries and keys)
Every query row of a tile sees at least one key (CAUSAL: key ks; ANTI: key ke - 1).
Rules whose regions are bands of delta = i - j (SelfExtend, LaMPE) tile with `band_tiles`; a
band boundary is a diagonal, so each costs one CAUSAL and one ANTI triangle. Chunked rules
(ChunkLlama) tile with rectangles plus the causal diagonal. Coordinates are token positions of
one batch row with keys 0 .. qe - 1 (left padding is removed by the engine).
"""
from __future__ import annotations

from typing import NamedTuple

FULL, CAUSAL, ANTI = "full", "causal", "anti"


class Tile(NamedTuple):
    region: int
    kind: str
    qs: int
    qe: int
    ks: int
    ke: int


def band_tiles(edges: list[int], qs: int, qe: int) -> list[Tile] | None:
    """Tiles for regions r = bands edges[r] <= delta < edges[r + 1] (edges[0] = 0, last = inf).

    Needs every non-empty finite band at least as wide as the block (then a band's near and far
    boundaries never meet inside it); returns None when one is narrower, so the caller can split.
    """
    n = qe - qs
    bounds = [0, *edges, None]
    tiles = []
    for region, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        if hi is not None and hi <= lo:
            continue  # empty band
        if hi is not None and hi - lo < n:
            return None
        # near side: j <= i - lo (keys [qs - lo, qe - lo), clipped at key 0 by dropping queries i < lo)
        first = max(qs, lo)
        if first < qe:
            tiles.append(Tile(region, CAUSAL, first, qe, first - lo, qe - lo))
        # middle: keys every query of the block puts in this band
        start = 0 if hi is None else max(qe - hi, 0)
        if start < qs - lo:
            tiles.append(Tile(region, FULL, qs, qe, start, qs - lo))
        # far side: j >= i - hi + 1 for keys [qs - hi + 1, qe - hi); the last query sees none of them
        if hi is not None and qe - hi > max(qs - hi + 1, 0):
            tiles.append(Tile(region, ANTI, qs, qe - 1, max(qs - hi + 1, 0), qe - hi))
    return tiles


def refine(tiles: list[Tile], max_rows: int) -> list[Tile]:
    """The same cover with every CAUSAL or ANTI tile made a square of at most `max_rows` rows.

    A triangle clipped at key 0 (more rows than keys) becomes its square plus a FULL tile of the
    rows that see every key; a square over `max_rows` is halved until it fits: two half-size
    triangles and the FULL square between them.
    Why: torch's CPU flash kernel computes a causal tile's whole bounding square in key blocks of
    up to 512 and masks half of it afterwards, so each large triangle costs twice its area.
    """
    out, todo = [], list(tiles)
    while todo:
        t = todo.pop()
        n, m = t.qe - t.qs, t.ke - t.ks
        if t.kind == FULL or n < m:
            out.append(t)
        elif n > m:  # CAUSAL: rows from qs + m on see all keys; ANTI: rows before qe - m do
            if t.kind == CAUSAL:
                todo += [Tile(t.region, CAUSAL, t.qs, t.qs + m, t.ks, t.ke), Tile(t.region, FULL, t.qs + m, t.qe, t.ks, t.ke)]
            else:
                todo += [Tile(t.region, ANTI, t.qe - m, t.qe, t.ks, t.ke), Tile(t.region, FULL, t.qs, t.qe - m, t.ks, t.ke)]
        elif n <= max_rows:
            out.append(t)
        elif t.kind == CAUSAL:  # j - ks <= i - qs
            h = n // 2
            todo += [Tile(t.region, CAUSAL, t.qs, t.qs + h, t.ks, t.ks + h),
                     Tile(t.region, FULL, t.qs + h, t.qe, t.ks, t.ks + h),
                     Tile(t.region, CAUSAL, t.qs + h, t.qe, t.ks + h, t.ke)]
        else:  # ANTI, ke - j <= qe - i: the mirror image
            h = n // 2
            todo += [Tile(t.region, ANTI, t.qe - h, t.qe, t.ke - h, t.ke),
                     Tile(t.region, FULL, t.qs, t.qe - h, t.ke - h, t.ke),
                     Tile(t.region, ANTI, t.qs, t.qe - h, t.ks, t.ke - h)]
    return out


def split_tiles(tiler, qs: int, qe: int, min_rows: int) -> list[Tile] | None:
    """`tiler(a, b)` over [qs, qe), halving the query range where it returns None."""
    tiles = tiler(qs, qe)
    if tiles is not None:
        return tiles
    if qe - qs <= min_rows:
        return None
    mid = (qs + qe) // 2
    left, right = split_tiles(tiler, qs, mid, min_rows), split_tiles(tiler, mid, qe, min_rows)
    return None if left is None or right is None else left + right
