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
    _require_rope(model)
    method = cls(model, **values)  # may raise on values that do not fit this model
    previous = getattr(model, "lampe_method", None)
    snapshot_original(model)
    restore_original(model)
    try:
        method.apply(model)
    except BaseException:  # a failed call leaves the model as it was before it
        restore_original(model)
        if previous is not None:
            kept = dict(previous)
            get_method(kept["name"])(model, **{k: v for k, v in kept.items() if k != "name"}).apply(model)
            model.lampe_method = previous
        raise
    model.lampe_method = {"name": name, **method.values}
    return model


def _require_rope(model) -> None:
    """Every method edits rotary position embeddings: name the model type when there are none."""
    config = getattr(model, "config", None)
    if getattr(config, "rope_parameters", None) is None:
        kind = getattr(config, "model_type", type(model).__name__)
        raise ValueError(f"apply_method: model type '{kind}' has no rotary position embedding "
                         f"(config.rope_parameters); supported: RoPE decoders such as llama, mistral, qwen2, gemma")
