"""ReRoPE and Leaky ReRoPE (Su 2023, bojone/rerope): distances past a window stop growing.

w = window, delta = i - j.
  delta < w:   d = delta                        (exact)
  delta >= w:  d = w                            (ReRoPE)
               d = w + (delta - w) / k          (Leaky ReRoPE, `leaky=true`, k = leaky_factor)
Leaky ReRoPE's far distances are fractional: the release rotates them with RoPE interpolated by k
(query at (i + w (k - 1)) / k, key at j / k), and so does the engine (`rope.RopeTable`).
Both, as released, multiply every logit of the query at position i by
max(1, ln(i + 1) / ln(P)), P = the pretraining length (`log_scale=false`: off). Prefill and
decoding follow the same rule; decoding rotates each key by -d, as the release does.
See docs/methods.md for where this departs from the released code.
"""
from __future__ import annotations

import math

import torch

from lampe.attention.rules import DistanceRule
from lampe.methods.base import PRETRAINING_LENGTH, Param
from lampe.methods.region import RegionMethod
from lampe.methods.registry import register_method

LEAKY_FACTOR = 16.0  # the release's scaling_factor


class ReRopeRule(DistanceRule):
    num_regions = 2  # inside the window; past it

    def __init__(self, window: int, leaky_factor: float | None = None, scale_base: int | None = None):
        """`leaky_factor`: k of Leaky ReRoPE, None for ReRoPE; `scale_base`: P of the query's log
        scale, None for no scale."""
        self.window, self.leaky_factor, self.scale_base = window, leaky_factor, scale_base

    def region(self, i, j, ctx):
        return ((i - j) >= self.window).long()

    def query_position(self, r, i, ctx):
        if r == 0:
            return i
        if self.leaky_factor is None:
            return torch.full_like(i, self.window)
        return (i.to(torch.float64) + self.window * (self.leaky_factor - 1)) / self.leaky_factor

    def key_position(self, r, j, ctx):
        if r == 0:
            return j
        if self.leaky_factor is None:
            return torch.zeros_like(j)
        return j.to(torch.float64) / self.leaky_factor

    def distance(self, i, j, ctx):
        delta = i - j
        if self.leaky_factor is None:
            return delta.clamp(max=self.window)
        far = self.window + (delta - self.window).to(torch.float64) / self.leaky_factor
        return torch.where(delta < self.window, delta.to(torch.float64), far)

    def query_scale(self, i, ctx):
        if self.scale_base is None:
            return None
        return ((i + 1).to(torch.float64).log() / math.log(self.scale_base)).clamp(min=1.0)

    def bands(self, row):
        return [self.window]


@register_method
class ReRope(RegionMethod):
    name = "rerope"
    params = (
        Param("window", int, 512, low=1, doc="w: keys this close keep exact distances"),
        Param("leaky", bool, False, doc="Leaky ReRoPE: past w the distance grows at 1 / leaky_factor"),
        Param("leaky_factor", float, None, low=1.0, doc=f"k of Leaky ReRoPE (leaky=true only); default {LEAKY_FACTOR:g}"),
        Param("log_scale", bool, True, doc="each query's logits times max(1, ln(i + 1) / ln(pretraining_length))"),
        PRETRAINING_LENGTH,
    )
    description = "ReRoPE / Leaky ReRoPE: distances capped (or slowed) past a window"
    length_rule = "w = 512 and the log scale's base = P, as released: no length-dependent parameter"

    def __init__(self, model, **values):
        super().__init__(model, **values)
        values = self.values
        for param in self.params:  # None given where the class has a default: the default
            if values[param.name] is None:
                values[param.name] = param.default
        if values["leaky_factor"] is not None and not values["leaky"]:
            raise ValueError(f"Invalid rerope.leaky_factor={values['leaky_factor']!r}: it sets Leaky ReRoPE's k, "
                             "so it needs leaky=true")
        if values["leaky"] and values["leaky_factor"] is None:
            values["leaky_factor"] = LEAKY_FACTOR
        if values["log_scale"] and self.pretraining_length < 2:
            raise ValueError(f"Invalid rerope.pretraining_length={self.pretraining_length}: the log scale's base "
                             "must be >= 2 (or log_scale=false)")

    def rule(self) -> ReRopeRule:
        v = self.values
        return ReRopeRule(v["window"], v["leaky_factor"] if v["leaky"] else None,
                          self.pretraining_length if v["log_scale"] else None)
