"""SelfExtend (Jin et al. 2024, LongLM): neighbours keep exact distances, far keys are grouped.

delta = i - j < window: d = delta; else d = (i // group + window - window // group) - j // group.
"""
from __future__ import annotations

import torch

from lampe.attention.hook import install_region_rule
from lampe.attention.rules import DistanceRule
from lampe.methods.base import Method, Param
from lampe.methods.registry import register_method


class SelfExtendRule(DistanceRule):
    num_regions = 2

    def __init__(self, window: int, group: int):
        self.window, self.group = window, group

    def region(self, i, j, ctx):
        return ((i - j) >= self.window).long()

    def query_position(self, r, i, ctx):
        return i if r == 0 else i // self.group + self.window - self.window // self.group

    def key_position(self, r, j, ctx):
        return j if r == 0 else j // self.group

    def bands(self, row):
        return [self.window]

    def distance(self, i, j, ctx):
        grouped = (i // self.group + self.window - self.window // self.group) - j // self.group
        return torch.where((i - j) < self.window, i - j, grouped)


@register_method
class SelfExtend(Method):
    name = "self_extend"
    params = (
        Param("window", int, 1024, low=1, doc="neighbour window with exact distances"),
        Param("group", int, 8, low=1, doc="group size for distant keys"),
    )
    description = "SelfExtend: grouped attention for distant tokens, exact neighbour window"

    def apply(self, model) -> None:
        install_region_rule(model, SelfExtendRule(self.values["window"], self.values["group"]))
