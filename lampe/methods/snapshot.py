"""Remember what a model looked like before any method, and put it back.

Methods change three things: `config.rope_parameters`, the rotary modules, and the attention
implementation (plus a `lampe_binding` on each attention module). The first `apply_method`
records the originals on the model; every later one restores them before applying its own.
"""
from __future__ import annotations

import copy

from lampe.model_parts import attention_modules, rotary_modules, set_module

_ORIGINAL = "_lampe_original"


def snapshot_original(model) -> None:
    if hasattr(model, _ORIGINAL):
        return
    setattr(
        model,
        _ORIGINAL,
        {
            "rope_parameters": copy.deepcopy(model.config.rope_parameters),
            "rotary": rotary_modules(model),
            "attn_implementation": model.config._attn_implementation,
        },
    )


def restore_original(model) -> None:
    """Undo whatever method is applied (no-op on an untouched model)."""
    original = getattr(model, _ORIGINAL, None)
    if original is None:
        return
    model.config.rope_parameters = copy.deepcopy(original["rope_parameters"])
    for name, module in original["rotary"].items():
        set_module(model, name, module)
    if model.config._attn_implementation != original["attn_implementation"]:
        model.set_attn_implementation(original["attn_implementation"])
    for module in attention_modules(model):
        if hasattr(module, "lampe_binding"):
            del module.lampe_binding
        hook = module.__dict__.pop("_lampe_cache_check", None)  # the region methods' cache check
        if hook is not None:
            hook.remove()
    if hasattr(model, "lampe_method"):
        del model.lampe_method
