"""A region method is its distance rule plus its parameters; `RegionMethod` does the installing."""
from __future__ import annotations

from lampe.attention.hook import install_region_rule
from lampe.attention.rules import DistanceRule
from lampe.methods.base import Method


class RegionMethod(Method):
    """Subclasses declare `params` and build their rule from `self.values` in `rule()`."""

    def rule(self) -> DistanceRule:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, model) -> None:
        install_region_rule(model, self.rule())
