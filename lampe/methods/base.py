"""What a method is: a name, typed parameters with ranges, and an `apply` that edits a model.

A method also owns how a model's `method_defaults` give way to the user (`merge_defaults`) and
its config-only consistency checks (`check`), so the runner holds no method-specific code; each
default is stated once, in its `Param`.

Parameters arrive from Python, Hydra or lm-eval's `--model_args` (strings), so `Param.parse`
coerces and range-checks them and every error names the bad value and what is valid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

_NONE_STRINGS = {"none", "null", ""}
INT_LIMIT = 2**31 - 1  # the largest integer parameter (a length or window) any method accepts


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int, float, str or bool
    default: Any = None
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive
    choices: tuple | None = None
    doc: str = ""

    def parse(self, method: str, value: Any) -> Any:
        """Coerce `value` to this parameter's kind and check its range or choices."""
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE_STRINGS):
            return None
        where = f"{method}.{self.name}"
        try:
            if self.kind is bool:
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0"):
                        raise ValueError
                    value = value.lower() in ("true", "1")
                value = bool(value)
            elif self.kind in (int, float) and isinstance(value, bool):
                raise ValueError  # True is not the number 1 here: a flag given where a number belongs
            elif self.kind is int:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                if isinstance(value, str):
                    value = float(value) if any(ch in value for ch in ".eE") else int(value)
                    if isinstance(value, float) and not value.is_integer():
                        raise ValueError
                value = int(value)
            elif self.kind is float:
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid {where}={value!r}: expected {self.kind.__name__}") from None
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"Invalid {where}={value!r}. Valid choices: {', '.join(map(str, self.choices))}")
        high = self.high
        if self.kind is int:  # token counts and positions: beyond int32 no tensor can hold them
            high = INT_LIMIT if high is None else min(high, INT_LIMIT)
        if (self.low is not None and value < self.low) or (high is not None and value > high):
            lo = "-inf" if self.low is None else self.low
            hi = "inf" if high is None or (self.high is None and value <= high) else high
            raise ValueError(f"Invalid {where}={value!r}: must be in [{lo}, {hi}]")
        return value


class Method:
    """A context-extension method. Subclasses set `name`, `params` and implement `apply`."""

    name: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    description: ClassVar[str] = ""

    @classmethod
    def parse_params(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Validate user parameters: unknown names and bad values raise ValueError."""
        known = {p.name: p for p in cls.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            valid = ", ".join(known) or "(none)"
            raise ValueError(f"Unknown parameter '{unknown[0]}' for method '{cls.name}'. Valid: {valid}")
        values = {p.name: p.default for p in cls.params}
        for key, value in given.items():
            parsed = known[key].parse(cls.name, value)
            values[key] = known[key].default if parsed is None else parsed  # null: the Param's default
        return values

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of parameter `name`, as its Param states it."""
        return next(p.default for p in cls.params if p.name == name)

    @classmethod
    def window(cls, values: dict[str, Any], pretraining_length: int | None) -> int | None:
        """The trained window the method works from: its own `pretraining_length` when set, else
        the model's (`pretraining_length`: the model config's, or max_position_embeddings)."""
        return values.get("pretraining_length") or pretraining_length

    @classmethod
    def with_window(cls, values: dict[str, Any], pretraining_length: int | None) -> dict[str, Any]:
        """`values` with the model's trained window as `pretraining_length`, for a method that
        takes one and was given none (so a run records the window it ran with)."""
        if any(p.name == "pretraining_length" for p in cls.params) and values.get("pretraining_length") is None:
            return {**values, "pretraining_length": pretraining_length}
        return dict(values)

    @classmethod
    def merge_defaults(cls, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        """A model's `method_defaults` under the user's `given` values (both before parsing).

        Key by key here; a method whose parameters exclude each other overrides this, so that
        choosing one drops the model's other (LaMPE's mapping_length / preset / a, b, c).
        """
        return {**defaults, **given}

    @classmethod
    def check(cls, values: dict[str, Any], pretraining_length: int | None) -> None:
        """The method's consistency checks from a config alone, before any model loads.

        Parsed `values` go through the constructor with a stand-in model that has only
        max_position_embeddings: ValueError propagates; a check that needs the real model
        fails otherwise and runs again when the method is applied.
        """
        stub = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=pretraining_length))
        try:
            cls(stub, **dict(values))
        except ValueError:
            raise
        except Exception:  # noqa: BLE001 - needs the real model
            pass

    # The rule the method's authors publish for choosing its parameters at an input length L (the
    # harness's `rule=published`): one line for the rule table, and the parameters it sets.
    length_rule: ClassVar[str] = "no length-dependent parameter"
    rule_params: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def published(cls, length: int, pretraining_length: int, values: dict[str, Any]) -> dict[str, Any]:
        """The published rule's values at an input of `length` tokens (prompt plus generation
        budget): every parameter in `rule_params`, and any other it moves; `values` are the
        run's other parameters. A method without a length rule returns {}."""
        return {}

    @classmethod
    def check_published(cls, values: dict[str, Any]) -> None:
        """Raise ValueError when `values` cannot follow the published rule (before any model)."""

    @classmethod
    def effective_params(cls, values: dict[str, Any], length: int, pretraining_length: int | None) -> dict[str, Any]:
        """The parameters that applied to a prompt of `length` tokens (a record's `method_params`):
        the set values, plus what the method derives from the length (LaMPE's U, ...)."""
        return {k: v for k, v in values.items() if v is not None}

    def __init__(self, model, **values):
        self.values = values
        self.pretraining_length = self.window(values, model.config.max_position_embeddings)

    def apply(self, model) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


PRETRAINING_LENGTH = Param(
    "pretraining_length", int, None, low=1, doc="the model's trained window; default max_position_embeddings"
)
