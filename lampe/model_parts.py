"""Find the parts of a transformers model that methods edit: rotary and attention modules.

Shared by the attention hook and the methods, so neither imports the other for them.
"""
from __future__ import annotations

from torch import nn


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
