"""SelfExtend (Jin et al. 2024, LongLM): neighbours keep exact distances, far keys are grouped.

delta = i - j < window: d = delta; else d = (i // group + window - window / group) - j // group.
window must be a multiple of group: the released code writes window - window / group with true
division in its eager and flash prefill (fractional positions) but with floor division in its
flash decode, so for other pairs it has no single rule to follow.
`scale_base` (released, off by default): every logit of the query at position i is multiplied by
max(1, ln(i + 1) / ln(scale_base)) (the query alone is scaled, in both regions).
"""
from __future__ import annotations

import math

import torch

from lampe.attention.rules import DistanceRule
from lampe.methods.base import Param
from lampe.methods.region import RegionMethod
from lampe.methods.registry import register_method


class SelfExtendRule(DistanceRule):
    num_regions = 2

    def __init__(self, window: int, group: int, scale_base: int | None = None):
        if window % group:
            raise ValueError(
                f"Invalid self_extend window={window}, group={group}: window must be a multiple of group "
                f"(e.g. window={window // group * group} or {(window // group + 1) * group}); the released code "
                f"puts grouped queries at window - window / group = {window - window / group:g} in prefill but "
                f"{window - window // group} in flash decoding"
            )
        self.window, self.group, self.scale_base = window, group, scale_base
        self.shift = window - window // group

    def region(self, i, j, ctx):
        return ((i - j) >= self.window).long()

    def query_position(self, r, i, ctx):
        return i if r == 0 else i // self.group + self.shift

    def key_position(self, r, j, ctx):
        return j if r == 0 else j // self.group

    def query_scale(self, i, ctx):
        if self.scale_base is None:
            return None
        return ((i + 1).to(torch.float64).log() / math.log(self.scale_base)).clamp(min=1.0)

    def bands(self, row):
        return [self.window]

    def distance(self, i, j, ctx):
        grouped = (i // self.group + self.shift) - j // self.group
        return torch.where((i - j) < self.window, i - j, grouped)


@register_method
class SelfExtend(RegionMethod):
    name = "self_extend"
    params = (
        Param("window", int, 1024, low=1, doc="neighbour window with exact distances; a multiple of group"),
        Param("group", int, 8, low=1, doc="group size for distant keys"),
        Param("scale_base", int, None, low=2, doc="query log-scaling base (the release suggests the "
                                                    "pretraining length); None: off"),
    )
    description = "SelfExtend: grouped attention for distant tokens, exact neighbour window"

    def __init__(self, model, **values):
        super().__init__(model, **values)
        self.rule()  # checks window % group before anything is installed

    def rule(self) -> SelfExtendRule:
        return SelfExtendRule(self.values["window"], self.values["group"], self.values["scale_base"])
