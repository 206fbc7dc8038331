"""Tiles cover exactly the causal pairs, each in the region the rule's `region` assigns."""
import pytest
import torch

from lampe.attention import rules
from lampe.attention.tiles import ANTI, CAUSAL, FULL, band_tiles, refine
from tests.region_cases import RULES


def paint(tiles, qs, qe, num_keys):
    """Per (query, key): the region of the one tile covering it, -1 if none; fails on overlaps."""
    grid = torch.full((qe - qs, num_keys), -1)
    i = torch.arange(qs, qe)[:, None]
    j = torch.arange(num_keys)[None, :]
    for t in tiles:
        inside = (i >= t.qs) & (i < t.qe) & (j >= t.ks) & (j < t.ke)
        if t.kind == CAUSAL:
            inside &= (j - t.ks) <= (i - t.qs)
        elif t.kind == ANTI:
            inside &= (t.ke - j) <= (t.qe - i)
        else:
            assert t.kind == FULL
        assert t.ks >= 0 and t.qs < t.qe and t.ks < t.ke, t
        assert not bool((inside & (grid >= 0)).any()), f"overlap at {t}"
        grid[inside] = t.region
        # every row of a tile sees at least one key: the kernel's lse stays finite
        assert bool(inside[t.qs - qs:t.qe - qs].any(-1).all()), t
    return grid


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("length", [20, 33, 97, 160])
def test_rule_tiles_cover_the_causal_pairs_by_region(name, length, monkeypatch):
    monkeypatch.setattr(rules, "MIN_TILE_ROWS", 1)  # the test windows are narrower than real ones
    rule = RULES[name]
    key_pos = torch.arange(length)[None]
    ctx = rule.context(key_pos, None, torch.tensor([length]))
    row = ctx.row(0)
    for block in (1, 7, 16, 64):
        for qs in range(0, length + 6, block):  # past length - 1: decoding positions
            qe = qs + block
            tiles = rule.tiles(qs, qe, row)
            grid = paint(tiles, qs, qe, qe)
            i = torch.arange(qs, qe)[:, None]
            j = torch.arange(qe)[None, :]
            expected = rule.region(i, j, _rows(ctx)).masked_fill(j > i, -1)
            assert torch.equal(grid, expected), (name, length, qs, qe)


def _rows(ctx):
    return type(ctx)({k: v.reshape(1, 1) for k, v in ctx.values.items()})


def test_band_tiles_refuse_a_band_narrower_than_the_block():
    assert band_tiles([4, 6], 100, 110) is None  # band [4, 6) is 2 wide
    assert band_tiles([4, 4], 100, 104) is not None  # empty bands are skipped, width-4 band fits


def test_thin_bands_fall_back_to_the_masked_planner():
    rule = RULES["self_extend"]  # window 15 < MIN_TILE_ROWS
    assert rule.tiles(100, 164, {}) is None
    assert rule.tiles(100, 108, {}) is not None


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("max_rows", [1, 3, 8])
def test_refined_tiles_keep_the_same_cover(name, max_rows, monkeypatch):
    monkeypatch.setattr(rules, "MIN_TILE_ROWS", 1)
    rule = RULES[name]
    length = 97
    ctx = rule.context(torch.arange(length)[None], None, torch.tensor([length]))
    added = 0
    for qs in range(0, length, 32):
        tiles = rule.tiles(qs, qs + 32, ctx.row(0))
        refined = refine(tiles, max_rows)
        assert torch.equal(paint(refined, qs, qs + 32, qs + 32), paint(tiles, qs, qs + 32, qs + 32))
        assert all(t.kind == FULL or t.qe - t.qs <= max_rows for t in refined)
        assert all(t.kind == FULL or t.qe - t.qs == t.ke - t.ks for t in refined)  # triangles are squares
        added += len(refined) - len(tiles)
    if max_rows == 1:
        assert added > 0  # the diagonal's triangles at least were split
