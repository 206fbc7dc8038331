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
from fractions import Fraction

import torch

from lampe.attention.rules import DistanceRule
from lampe.methods.base import Param
from lampe.methods.region import RegionMethod
from lampe.methods.registry import register_method

# The LongLM README's empirical rule: only a fraction (1/2 ~ 2/3) of the trained positions are well
# trained, so choose W and G with W + (N - W) / G < fraction x P for a target length N. We take 2/3,
# the end that allows the smallest group (the README: "smaller group should be better").
WELL_TRAINED = Fraction(2, 3)


def published_group(length: int, window: int, pretraining_length: int, fraction: Fraction = WELL_TRAINED) -> int:
    """The smallest group G >= 1 with window + (length - window) / G < fraction x P (exact arithmetic)."""
    room = fraction * pretraining_length - window  # positions left for the grouped part
    if room <= 0:
        raise ValueError(f"self_extend: window={window} leaves no room under {fraction} x pretraining_length="
                         f"{pretraining_length} for grouped positions; the README's rule needs a smaller window")
    if length <= window:
        return 1
    return math.floor((length - window) / room) + 1


def covered_length(window: int, group: int, pretraining_length: int) -> int:
    """The longest input whose grouped positions stay inside the trained window: (P - W) G + W."""
    return (pretraining_length - window) * group + window


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
    length_rule = ("G: the smallest group with W + (L - W) / G < 2/3 P (the LongLM README's rule, its 2/3 end); "
            "W: the configured window rounded down to a multiple of G")
    rule_params = ("group",)

    @classmethod
    def published(cls, length, pretraining_length, values):
        window = values.get("window") or next(p.default for p in cls.params if p.name == "window")
        group = published_group(length, window, pretraining_length)
        if window < group:
            raise ValueError(f"self_extend: the rule's group {group} at length {length} exceeds window={window}, "
                             f"which must be a multiple of it; choose a larger window")
        return {"group": group, "window": window // group * group}  # W' <= W keeps the inequality

    @classmethod
    def effective_params(cls, values, length, pretraining_length):
        found = super().effective_params(values, length, pretraining_length)
        if pretraining_length and values.get("window") and values.get("group"):
            found["covers"] = covered_length(values["window"], values["group"], pretraining_length)
        return found

    def __init__(self, model, **values):
        super().__init__(model, **values)
        self.rule()  # checks window % group before anything is installed

    def rule(self) -> SelfExtendRule:
        return SelfExtendRule(self.values["window"], self.values["group"], self.values["scale_base"])
