"""Everything a method written outside this package needs, from one module.

    from lampe.extension import DistanceRule, Param, RegionMethod, register_method

A region method subclasses `RegionMethod` and returns its `DistanceRule` (how far apart query i
and key j look, region by region) from `rule()`; any other method subclasses `Method` and edits
the model in `apply`. `register_method`
makes the name known to `lampe.apply_method` and to the runner (`method=<name>`).
docs/methods.md walks through one (a distance cap, `my_rerope`) in a user's own file.
"""
from lampe.attention.rules import DistanceRule, RuleContext
from lampe.methods.base import Method, Param
from lampe.methods.region import RegionMethod
from lampe.methods.registry import register_method

__all__ = ["DistanceRule", "RuleContext", "Method", "Param", "RegionMethod", "register_method"]
