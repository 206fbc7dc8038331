"""The attention engine's developer API: what a benchmark of the engine or a check on a new device
needs, by stable names (the modules behind them may move; these names stay).

    from lampe.developer import method_rule, region_attention, reference_attention, RopeTable

`method_rule(name, pretraining_length, **params)` is the DistanceRule a region method installs
for those parameters (checked as `apply_method` checks them), without a model. `region_attention`
is the engine (the tiled, masked, flex and decode paths); `reference_attention` the float64
dense reference every rule is tested against; `RopeTable` the cos/sin table both rotate with;
`kernels` the fused kernels and their backends. scripts/bench_attention.py, check_cuda.py and
profile_cuda.py use this module; docs/methods.md says what each name is.
"""
from __future__ import annotations

from types import SimpleNamespace

from lampe.attention import kernels
from lampe.attention.engine import region_attention
from lampe.attention.reference import reference_attention
from lampe.attention.rope import RopeTable
from lampe.attention.rules import NO_ATTENTION, DistanceRule, PlainRule, RuleContext
from lampe.methods.region import RegionMethod
from lampe.methods.registry import get_method


def method_rule(name: str, pretraining_length: int, **params) -> DistanceRule:
    """The distance rule region method `name` installs on a model trained on `pretraining_length`
    tokens, with `params` (its defaults where not given); ValueError names a bad parameter, or a
    method that has no rule (a frequency method)."""
    cls = get_method(name)
    if not issubclass(cls, RegionMethod):
        raise ValueError(f"Method '{name}' has no distance rule: it edits the model's RoPE frequencies")
    model = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=pretraining_length))
    return cls(model, **cls.parse_params(params)).rule()


__all__ = ["NO_ATTENTION", "DistanceRule", "PlainRule", "RopeTable", "RuleContext", "kernels", "method_rule",
           "reference_attention", "region_attention"]
