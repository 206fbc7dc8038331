"""`method.factor=auto`: PI, NTK and YaRN scaled to each sample's length, as they are published.

Their factor is target length / training length: a run over 4k-32k with one factor is tuned for
one of those lengths only. With `auto` the runner reapplies the method whenever a sample's length
asks for another factor, max(1, L / pretraining_length), where L is the sample's `meta.length`
(the benchmark's target length) or else the run's `max_length`. `apply_method` rebuilds only the
rotary module, so a switch costs milliseconds. dynamic_ntk needs no `auto`: it rescales itself.
"""
from __future__ import annotations

import math

from lampe import apply_method, get_method

AUTO = "auto"


def wants_auto(method_cfg: dict) -> bool:
    """True for `factor: auto`; an error when the method has no factor to set."""
    if str(method_cfg.get("factor")).strip().lower() != AUTO:
        return False
    if "factor" not in {p.name for p in get_method(method_cfg["name"]).params}:
        raise ValueError(f"method.factor=auto: method '{method_cfg['name']}' has no factor parameter")
    return True


def factor_for(length: int, pretraining_length: int) -> float:
    """max(1, L / P) rounded up to 1/1000: one factor per length, never below the stock model."""
    return max(1.0, math.ceil(1000 * length / pretraining_length) / 1000)


class LengthFactor:
    """Called before each sample: applies the method with the factor that sample's length needs."""

    def __init__(self, model, name: str, values: dict, pretraining_length: int, default_length: int | None):
        if not pretraining_length:
            raise ValueError("method.factor=auto needs model.pretraining_length (the trained window)")
        self.model, self.name, self.values = model, name, dict(values)
        self.pretraining_length, self.default_length = int(pretraining_length), default_length
        self.current: float | None = None

    def __call__(self, sample) -> None:
        length = (sample.meta or {}).get("length") or self.default_length
        if length is None:
            raise ValueError(f"method.factor=auto: sample '{sample.id}' has no meta.length and the run no max_length")
        factor = factor_for(int(length), self.pretraining_length)
        if factor != self.current:
            apply_method(self.model, self.name, **{**self.values, "factor": factor})
            self.current = factor
