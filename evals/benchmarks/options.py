"""Benchmark options, declared once: each benchmark lists its `Option`s (name, default, kind,
range, choices, a check of its own), the way a method lists its `Param`s.

The declaration is the only default: conf/benchmark/<name>.yaml (the base config of the name a
user types) repeats the declared defaults for the reader, and the other presets only override
them (tests/test_benchmark_options.py holds both to that). Every way in (the CLI, the Python API,
the study, the lm-eval model) reaches the same `parse_options`, so a value is checked one way,
and every error names the option, the bad value and what is valid.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable

from omegaconf import OmegaConf

from evals.benchmarks.common.prompt_format import DEFAULT_FORMAT, FORMATS
from evals.benchmarks.common.splits import DEFAULT_SPLIT, SPLITS

# kind -> (one value, several, the test of one value)
_SCALARS: dict[str, tuple[str, str, Callable[[Any], bool]]] = {
    "int": ("an integer", "integers", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "number": ("a number", "numbers",
               lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)),
    "bool": ("a boolean (true or false)", "booleans", lambda v: isinstance(v, bool)),
    "str": ("a non-empty string", "non-empty strings", lambda v: isinstance(v, str) and bool(v.strip())),
    "mapping": ("a mapping", "mappings", lambda v: isinstance(v, dict)),
    "any": ("any value", "values", lambda v: True),
}
# list kinds -> their item kind; a lone item stands for a list of one
_LISTS = {"ints": "int", "numbers": "number", "strs": "str"}


def plain(value: Any) -> Any:
    """OmegaConf containers (from Hydra) as plain Python lists and dicts."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    kind: str  # a key of _SCALARS or _LISTS
    low: float | None = None  # inclusive, for numbers and each item of a list of numbers
    high: float | None = None
    choices: tuple | None = None  # for a str, or each item of a list of str
    null: bool = False  # null (None) is a valid value
    min_items: int = 0  # for lists
    check: Callable[[Any], Any] | None = None  # a further check (raises ValueError); returns the value to keep
    doc: str = ""

    def __post_init__(self):
        if self.kind not in _SCALARS and self.kind not in _LISTS:
            raise ValueError(f"Option {self.name}: unknown kind {self.kind!r}. "
                             f"Valid: {', '.join([*_SCALARS, *_LISTS])}")

    def expected(self) -> str:
        """What a value must be, for error messages."""
        one, several, _ = _SCALARS[_LISTS.get(self.kind, self.kind)]
        text = f"a list of {several}" if self.kind in _LISTS else one
        if self.low is not None and self.high is not None:
            text += f" in [{self.low:g}, {self.high:g}]"
        elif self.low is not None:
            text += f" >= {self.low:g}"
        elif self.high is not None:
            text += f" <= {self.high:g}"
        return text + (" or null" if self.null else "")

    def _invalid(self, value: Any, why: str | None = None) -> ValueError:
        return ValueError(f"Invalid benchmark.{self.name}={value!r}: {why or 'expected ' + self.expected()}")

    def _item(self, value: Any, item: Any, kind: str) -> Any:
        """One value (or one item of a list `value`), checked."""
        inside = item is not value  # an item of a list: name it
        if not _SCALARS[kind][2](item) or (kind in ("int", "number") and (
                (self.low is not None and item < self.low) or (self.high is not None and item > self.high))):
            raise self._invalid(value, f"expected {self.expected()}" + (f" ({item!r} is not one)" if inside else ""))
        if self.choices is not None and item not in self.choices:
            raise ValueError(f"Invalid benchmark.{self.name}={value!r}" + (f": {item!r} is not one" if inside else "")
                             + f". Valid choices: {', '.join(map(str, self.choices))}")
        return item

    def parse(self, value: Any) -> Any:
        """The value checked (and, for a list kind, a lone item made a list of one)."""
        value = plain(value)
        if value is None:
            if self.null:
                return None
            raise self._invalid(value)
        if self.kind in _LISTS:
            items = value if isinstance(value, list) else [value]
            if len(items) < self.min_items:
                raise self._invalid(value, f"give at least {'one' if self.min_items == 1 else self.min_items} "
                                           f"(expected {self.expected()})")
            value = [self._item(value, item, _LISTS[self.kind]) for item in items]
        else:
            value = self._item(value, value, self.kind)
        return self.check(value) if self.check is not None else value


def parse_options(benchmark: str, declared: tuple[Option, ...], given: dict) -> dict:
    """Every declared option's value: the given one checked, else its default. A name that is not
    declared is an error naming the valid ones."""
    known = {o.name: o for o in declared}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"Unknown {benchmark} option '{unknown[0]}'. Valid: {', '.join(known)}")
    return {name: option.parse(given[name]) if name in given else copy.deepcopy(option.default)
            for name, option in known.items()}


def defaults(declared: tuple[Option, ...]) -> dict:
    return {o.name: o.default for o in declared}


# ---- options many benchmarks share -----------------------------------------------------------

PROMPT_FORMAT = Option("prompt_format", DEFAULT_FORMAT, "str", choices=FORMATS,
                       doc="official (the benchmark script's prompt for the model's family) | chat | raw")
SPLIT = Option("split", DEFAULT_SPLIT, "str", choices=SPLITS, doc="dev (tuning: sweeps, fit_sigmoid) | test (scores)")


def max_length(default: int | None = None) -> Option:
    return Option("max_length", default, "int", low=1, null=True,
                  doc="prompt tokens kept (a longer prompt loses its middle); null: no cut")


def lengths(default: list[int], low: int = 1) -> Option:
    return Option("lengths", default, "ints", low=low, min_items=1,
                  doc="prompt plus generation budget, in the model's tokens")


def count(name: str, default: int | None, doc: str = "") -> Option:
    """A positive count, null for "all" (samples per task, documents...)."""
    return Option(name, default, "int", low=1, null=True, doc=doc)
