"""STRING (An et al. 2024, HKUNLP/STRING): well-trained positions shifted over the far ones.

S = shifted_offset, W = local_window, delta = i - j.
  delta < S:   d = delta              (the diagonal band: exact)
  delta >= S:  d = delta - S + W      (shifted: the query moves back by S - W)
so no pair sits farther than max(S - 1, L - 1 - S + W). S defaults to int(shifted_ratio * P),
P = the pretraining length, as the release's quick start sets it; `shifted_length=prompt` takes
int(shifted_ratio * L) per prompt instead (the release's benchmark scripts take a share of the
test length), at least W, and keeps it while decoding. The release also multiplies q's and k's
cos/sin tables by attention_factor = 0.1 ln 2 + 1, i.e. every logit by its square, in both parts.
See docs/methods.md for where this departs from the released code.
"""
from __future__ import annotations

import math

import torch

from lampe.attention.rules import DistanceRule, RuleContext
from lampe.methods.base import PRETRAINING_LENGTH, Param
from lampe.methods.region import RegionMethod
from lampe.methods.registry import register_method

SHIFTED_RATIO = 0.33  # the release's quick start: shifted_offset = int(0.33 * L)
ATTENTION_FACTOR = 0.1 * math.log(2) + 1
SHIFTED_LENGTHS = ("pretraining_length", "prompt")  # what shifted_ratio is a share of


class StringRule(DistanceRule):
    num_regions = 2  # the diagonal band; the shifted part

    def __init__(self, shifted_offset: int | None, local_window: int, attention_factor: float = ATTENTION_FACTOR,
                 prompt_ratio: float | None = None):
        """S is `shifted_offset`, or, when that is None, max(int(prompt_ratio * L), W) per prompt."""
        self.shifted_offset, self.local_window, self.prompt_ratio = shifted_offset, local_window, prompt_ratio
        self.logit_scale = attention_factor**2

    def context(self, key_pos, key_valid, prefill_len) -> RuleContext:
        if self.shifted_offset is not None:
            return RuleContext({"s": torch.full_like(prefill_len.long(), self.shifted_offset)})
        shifted = (prefill_len.to(torch.float64) * self.prompt_ratio).floor().long()  # int(ratio * L)
        return RuleContext({"s": shifted.clamp(min=self.local_window)})

    def region(self, i, j, ctx):
        return ((i - j) >= ctx["s"]).long()

    def query_position(self, r, i, ctx):
        if r == 0:
            return i
        return (i - ctx["s"] + self.local_window).clamp(min=0)  # rows i < S never use region 1

    def key_position(self, r, j, ctx):
        return j

    def distance(self, i, j, ctx):
        delta = i - j
        return torch.where(delta < ctx["s"], delta, delta - ctx["s"] + self.local_window)

    def bands(self, row):
        return [row["s"]]


@register_method
class String(RegionMethod):
    name = "string"
    params = (
        Param("shifted_offset", int, None, low=1, doc="S: distances from S on are shifted back to W; "
                                                       "default int(shifted_ratio * pretraining_length)"),
        Param("shifted_ratio", float, None, low=0.0, high=1.0,
              doc=f"S as a share of the pretraining length; default {SHIFTED_RATIO}"),
        Param("shifted_length", str, None, choices=SHIFTED_LENGTHS,
              doc="what shifted_ratio is a share of: pretraining_length (default) or each prompt's length"),
        Param("local_window", int, 128, low=0, doc="W: where the shifted distances start"),
        Param("attention_factor", float, ATTENTION_FACTOR, low=1e-6, doc="multiplies q and k (logits: its square)"),
        PRETRAINING_LENGTH,
    )
    description = "STRING: distances past S shifted back to start at W"
    length_rule = ("S = max(int(0.33 L), W) for an input of L tokens (the release's RULER, NIAH and InfiniteBench "
                   "scripts: 0.33 of the test length); W = 128")
    rule_params = ("shifted_offset",)

    @classmethod
    def published(cls, length, pretraining_length, values):
        window = values.get("local_window") or next(p.default for p in cls.params if p.name == "local_window")
        return {"shifted_offset": max(int(SHIFTED_RATIO * length), window), "shifted_ratio": None,
                "shifted_length": None}

    @classmethod
    def merge_defaults(cls, defaults: dict, given: dict) -> dict:
        """shifted_offset and shifted_ratio (with shifted_length) exclude each other: choosing one
        drops the model's other."""
        choice = ("shifted_offset", "shifted_ratio", "shifted_length")
        if any(key in given for key in choice):
            defaults = {k: v for k, v in defaults.items() if k not in choice}
        return {**defaults, **given}

    def __init__(self, model, **values):
        super().__init__(model, **values)
        values = self.values
        if values["shifted_offset"] is not None and values["shifted_ratio"] is not None:
            raise ValueError(f"string needs at most one of shifted_offset or shifted_ratio; got shifted_offset="
                             f"{values['shifted_offset']}, shifted_ratio={values['shifted_ratio']}")
        for param in self.params:  # None given where the class has a default: the default
            if values[param.name] is None:
                values[param.name] = param.default
        if values["shifted_length"] == "prompt" and values["shifted_offset"] is not None:
            raise ValueError(f"string.shifted_length=prompt sets S from shifted_ratio; it cannot go with "
                             f"shifted_offset={values['shifted_offset']}")
        if values["shifted_offset"] is None:
            values["shifted_ratio"] = SHIFTED_RATIO if values["shifted_ratio"] is None else values["shifted_ratio"]
            values["shifted_length"] = values["shifted_length"] or "pretraining_length"
            if values["shifted_length"] == "pretraining_length":
                values["shifted_offset"] = int(values["shifted_ratio"] * self.pretraining_length)
        if values["shifted_offset"] is not None and values["local_window"] > values["shifted_offset"]:
            raise ValueError(f"Invalid string.local_window={values['local_window']}: must be at most shifted_offset="
                             f"{values['shifted_offset']} (S - W is how far the far distances move back)")

    def rule(self) -> StringRule:
        v = self.values
        if v["shifted_length"] == "prompt":
            return StringRule(None, v["local_window"], v["attention_factor"], prompt_ratio=v["shifted_ratio"])
        return StringRule(v["shifted_offset"], v["local_window"], v["attention_factor"])
