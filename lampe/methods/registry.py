"""name -> Method class, and `apply_method`, the one entry point that edits a model."""
from __future__ import annotations

from lampe.methods.base import Method
from lampe.methods.snapshot import restore_original, snapshot_original

METHODS: dict[str, type[Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    if cls.name in METHODS:
        raise ValueError(f"Method '{cls.name}' is registered twice")
    METHODS[cls.name] = cls
    return cls


def available_methods() -> list[str]:
    return sorted(METHODS)


def registered_methods() -> list[str]:
    """Names in registration order: built-ins from plain RoPE to LaMPE, then a user's own."""
    return list(METHODS)


def get_method(name: str) -> type[Method]:
    if name not in METHODS:
        raise ValueError(f"Unknown method '{name}'. Available: {', '.join(available_methods())}")
    return METHODS[name]


def apply_method(model, name: str = "original", **params):
    """Apply method `name` with `params` to a loaded transformers causal LM, in place.

    Any earlier method is removed first, so applying twice or applying `original` leaves no
    stale state. Returns the model.
    """
    cls = get_method(name)
    values = cls.parse_params(params)
    method = cls(model, **values)  # may raise on values that do not fit this model
    snapshot_original(model)
    restore_original(model)
    method.apply(model)
    model.lampe_method = {"name": name, **method.values}
    return model
