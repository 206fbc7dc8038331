"""LM-Infinite (Han et al. 2024, Glaciohound/LM-Infinite): Lambda-shaped attention, distances capped.

n_local = local_branch, n_global = global_branch, delta = i - j, n = the current number of keys.
  delta < n_local:                     d = delta                          (local branch: exact)
  delta >= n_local and j < n_global:   d = min(limit_distance, n - 1)     (the first tokens: one fixed distance)
  otherwise:                           not attended
Defaults as the release's drop-in `convert_llama_model(model, 4096, 10)` for Llama-2:
local_branch = the pretraining length P, global_branch = 10, limit_distance = local_branch.
Prefill and decoding follow the same rule (the release's single-query step attends to the last
n_local keys plus the first n_global).
See docs/methods.md for where this departs from the released code.
"""
from __future__ import annotations

import torch

from lampe.attention.rules import MIN_TILE_ROWS, NO_ATTENTION, DistanceRule, RuleContext
from lampe.attention.tiles import band_tiles, split_tiles
from lampe.methods.base import PRETRAINING_LENGTH, Param
from lampe.methods.region import RegionMethod
from lampe.methods.registry import register_method

GLOBAL_BRANCH = 10  # the release's drop-in setting (its README: 10 to 100 behave alike)


class LambdaRule(DistanceRule):
    num_regions = 2  # the local branch; the global branch (first tokens, far away)
    attends_all = False  # the middle: keys past the local branch and after the first tokens

    def __init__(self, local_branch: int, global_branch: int, limit_distance: int):
        self.local, self.first, self.limit = local_branch, global_branch, limit_distance

    def context(self, key_pos, key_valid, prefill_len) -> RuleContext:
        length = key_valid.sum(-1) if key_valid is not None else torch.full_like(prefill_len, key_pos.shape[1])
        return RuleContext({"length": length.long()})

    def far(self, ctx):
        """The global branch's distance: the limit, or less while fewer keys exist (as released)."""
        return (ctx["length"] - 1).clamp(max=self.limit)

    def region(self, i, j, ctx):
        return torch.where((i - j) < self.local, 0, torch.where(j < self.first, 1, NO_ATTENTION))

    def query_position(self, r, i, ctx):
        return i if r == 0 else torch.zeros_like(i) + self.far(ctx)

    def key_position(self, r, j, ctx):
        return j if r == 0 else torch.zeros_like(j)

    def distance(self, i, j, ctx):
        delta = i - j
        return torch.where(delta < self.local, delta, torch.zeros_like(delta) + self.far(ctx))

    def tiles(self, qs, qe, row):
        """The band tiles of delta < n_local, and of the far band only its first n_global keys."""
        tiles = split_tiles(lambda a, b: band_tiles([self.local], a, b), qs, qe, MIN_TILE_ROWS)
        if tiles is None:
            return None
        return [t if t.region == 0 else t._replace(ke=min(t.ke, self.first))
                for t in tiles if t.region == 0 or t.ks < self.first]


@register_method
class LMInfinite(RegionMethod):
    name = "lm_infinite"
    params = (
        Param("local_branch", int, None, low=1, doc="keys this close are attended at their distance; "
                                                    "default the pretraining length"),
        Param("global_branch", int, GLOBAL_BRANCH, low=0, doc="the first tokens, attended from any distance"),
        Param("limit_distance", int, None, low=0, doc="the first tokens' distance; default local_branch"),
        PRETRAINING_LENGTH,
    )
    description = "LM-Infinite: Lambda-shaped attention (first tokens + local window), distances capped"
    length_rule = "local_branch = limit_distance = P, global_branch = 10 (the release's drop-in): no length-dependent parameter"

    def __init__(self, model, **values):
        super().__init__(model, **values)
        values = self.values
        for param in self.params:  # None given where the class has a default: the default
            if values[param.name] is None:
                values[param.name] = param.default
        if values["local_branch"] is None:
            values["local_branch"] = self.pretraining_length
        if values["limit_distance"] is None:
            values["limit_distance"] = values["local_branch"]

    def rule(self) -> LambdaRule:
        v = self.values
        return LambdaRule(v["local_branch"], v["global_branch"], v["limit_distance"])
