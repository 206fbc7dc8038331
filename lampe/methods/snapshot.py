"""Remember what a model looked like before any method, and put it back.

Methods change three things: `config.rope_parameters`, the rotary modules, and the attention
implementation (plus a `lampe_binding` on each attention module). The first `apply_method`
records the originals on the model; every later one restores them before applying its own.
"""
from __future__ import annotations

import copy

from torch import nn

_ORIGINAL = "_lampe_original"


def rotary_modules(model) -> dict[str, nn.Module]:
    """All rotary-embedding modules by qualified name (Llama/Mistral/Qwen have one)."""
    return {
        name: module
        for name, module in model.named_modules()
        if type(module).__name__.endswith("RotaryEmbedding") and hasattr(module, "inv_freq")
    }


def attention_modules(model) -> list[nn.Module]:
    """Self-attention modules: the ones that call the attention interface."""
    found = [m for m in model.modules() if type(m).__name__.endswith("Attention") and hasattr(m, "layer_idx")]
    if not found:
        raise NotImplementedError(f"No attention modules found in {type(model).__name__}")
    return found


def set_module(model, qualified_name: str, module: nn.Module) -> None:
    parent_name, _, child = qualified_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


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


def original_rotary(model) -> dict[str, nn.Module]:
    snapshot_original(model)
    return getattr(model, _ORIGINAL)["rotary"]


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
    if hasattr(model, "lampe_method"):
        del model.lampe_method
