"""A region method is a distance rule plus its parameters; installing it is the same for all."""
from __future__ import annotations

from lampe.attention.hook import install_region_rule
from lampe.attention.rules import DistanceRule
from lampe.methods.base import Method


class RegionMethod(Method):
    """Subclasses set `name` and `params` and return their rule from `rule()`."""

    def rule(self) -> DistanceRule:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, model) -> None:
        install_region_rule(model, self.rule())
