"""The only glue between region methods and transformers.

1. Every rotary module is replaced by `IdentityRotary` (cos=1, sin=0): q and k reach attention,
   and the KV cache, un-rotated, so no key is ever rotated twice.
2. One attention function is registered in transformers' `AttentionInterface` under
   ATTENTION_NAME, with a mask function in `AttentionMaskInterface` that hands it the 2D padding
   mask. It derives token positions from that mask (left padding counts real tokens only) and
   rotates inside the engine, in float32, from the model's real inv_freq.
No model forward is replaced; any model that calls the attention interface works.
3. A pre-hook on each attention module refuses a KV cache the engine cannot read: it takes the
   keys in cache order, all of them, with the queries last (transformers' dynamic cache). A
   static cache hands it max_cache_len slots, most of them empty, and a sliding-window cache
   drops old keys; either would give silently wrong attention.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface

from lampe.attention.engine import region_attention
from lampe.attention.rope import RopeTable
from lampe.attention.rules import DistanceRule
from lampe.attention.workspace import Workspace
from lampe.model_parts import attention_modules, rotary_modules, set_module

ATTENTION_NAME = "lampe_region"


class IdentityRotary(nn.Module):
    """Stands in for a rotary module: returns cos=1, sin=0, keeps inv_freq for the engine."""

    def __init__(self, original: nn.Module):
        super().__init__()
        self.register_buffer("inv_freq", original.inv_freq.detach().clone().float(), persistent=False)
        self.attention_scaling = float(getattr(original, "attention_scaling", 1.0))

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor):
        dim = 2 * self.inv_freq.shape[0]
        shape = (position_ids.shape[0], position_ids.shape[-1], dim)
        cos = torch.ones(1, 1, dim, dtype=x.dtype, device=x.device).expand(shape)
        sin = torch.zeros(1, 1, dim, dtype=x.dtype, device=x.device).expand(shape)
        return cos, sin


@dataclass
class RegionBinding:
    """What one attention module needs at call time; shared by all layers of a model."""

    rule: DistanceRule
    rotary: IdentityRotary
    prefill_len: torch.Tensor | None = field(default=None)
    rope_table: RopeTable | None = field(default=None)
    memo: dict = field(default_factory=dict)  # per-step work shared by all layers
    workspace: Workspace = field(default_factory=Workspace)  # scratch buffers reused by all layers and steps

    def __post_init__(self):
        self.rope_table = RopeTable(self.rotary.inv_freq, self.rotary.attention_scaling)

    def context(self, layer_idx, key_pos, key_valid, num_queries):
        """The rule's per-row context, computed once per forward pass and shared by the layers.

        A pass starts when the layer index does not increase (tensor addresses are no key:
        the allocator reuses them across batches).
        """
        if layer_idx > self.memo.get("layer", -1) and "ctx" in self.memo:
            self.memo["layer"] = layer_idx
            return self.memo["ctx"]
        self.memo.clear()
        if num_queries == key_pos.shape[1]:  # a prefill: its real length fixes the rule (LaMPE's L)
            self.prefill_len = key_valid.sum(-1) if key_valid is not None else torch.full(
                (key_pos.shape[0],), key_pos.shape[1], device=key_pos.device)
        elif self.prefill_len is None or self.prefill_len.shape[0] != key_pos.shape[0]:
            raise RuntimeError("cached decoding with a region method needs the prefill to run through it first")
        self.memo.update(layer=layer_idx, ctx=self.rule.context(key_pos, key_valid, self.prefill_len))
        return self.memo["ctx"]


def padding_mask_only(batch_size, q_length, kv_length, q_offset=0, kv_offset=0, mask_function=None,
                      attention_mask=None, **kwargs):
    """Mask function: pass the 2D padding mask (B, kv_length) through; None when nothing is padded."""
    if attention_mask is None:
        return None
    attention_mask = attention_mask[:, -kv_length:].to(torch.bool)
    return None if bool(attention_mask.all()) else attention_mask


def region_attention_forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    binding: RegionBinding | None = getattr(module, "lampe_binding", None)
    if binding is None:
        raise RuntimeError(
            f"attn_implementation '{ATTENTION_NAME}' needs a region method: use lampe.apply_method(model, ...)"
        )
    if dropout:
        raise NotImplementedError("region attention is for inference: dropout must be 0")
    batch, _, num_queries, _ = query.shape
    num_keys = key.shape[2]
    key_valid = attention_mask
    if key_valid is not None:
        if key_valid.dim() != 2:
            raise ValueError(f"region attention takes a 2D padding mask, got shape {tuple(key_valid.shape)}")
        key_valid = key_valid[:, -num_keys:].to(torch.bool)
        key_pos = (key_valid.long().cumsum(-1) - 1).clamp(min=0)
    else:
        key_pos = torch.arange(num_keys, device=query.device).expand(batch, num_keys)
    query_pos = key_pos[:, num_keys - num_queries:]

    ctx = binding.context(getattr(module, "layer_idx", 0), key_pos, key_valid, num_queries)
    out = region_attention(
        query, key, value, rule=binding.rule, ctx=ctx, query_pos=query_pos, key_pos=key_pos,
        key_valid=key_valid, inv_freq=binding.rotary.inv_freq, rope_scaling=binding.rotary.attention_scaling,
        scaling=module.scaling if scaling is None else scaling, rope_table=binding.rope_table, memo=binding.memo,
        workspace=binding.workspace,
    )
    return out, None


AttentionInterface.register(ATTENTION_NAME, region_attention_forward)
AttentionMaskInterface.register(ATTENTION_NAME, padding_mask_only)


CACHE_HOOK = "_lampe_cache_check"


def check_cache(module, args, kwargs) -> None:
    """Forward pre-hook: a region method reads a dynamic, unwindowed KV cache only."""
    if getattr(module, "lampe_binding", None) is None:
        return
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    layers = getattr(cache, "layers", None)
    if cache is None or layers is None:
        return
    from transformers.cache_utils import DynamicLayer

    layer = layers[min(getattr(module, "layer_idx", 0), len(layers) - 1)]
    if isinstance(layer, DynamicLayer) and not getattr(layer, "is_sliding", False):
        return
    raise ValueError(
        f"region attention needs transformers' dynamic KV cache (DynamicCache, no sliding window); got "
        f"{type(cache).__name__} with {type(layer).__name__}: a static cache passes every preallocated slot and a "
        f"sliding one drops old keys, so the attention would be wrong. Use generate() without cache_implementation "
        f"(or cache_implementation='dynamic'), and a model config with sliding_window=None")


def uses_region_attention(model) -> bool:
    """Whether a region method routes this model's attention (a harness batches differently)."""
    return getattr(model.config, "_attn_implementation", None) == ATTENTION_NAME


def install_region_rule(model, rule: DistanceRule) -> None:
    """Route the model's attention through `rule` (call on a model restored to its original:
    `lampe.apply_method` does; its rotary module is the one whose frequencies the rule uses)."""
    rotaries = rotary_modules(model)
    if len(rotaries) != 1:
        raise NotImplementedError(
            f"region methods need exactly one rotary module, {type(model).__name__} has {len(rotaries)}"
        )
    (name, original), = rotaries.items()
    head_dim = getattr(model.config, "head_dim", None) or model.config.hidden_size // model.config.num_attention_heads
    if 2 * original.inv_freq.shape[0] != head_dim:
        raise NotImplementedError("region methods need full-dimension RoPE (partial rotary is not supported)")
    if getattr(model.config, "sliding_window", None) and getattr(model.config, "use_sliding_window", True):
        warnings.warn(
            f"{type(model).__name__} declares sliding_window={model.config.sliding_window}; region methods attend "
            "to the whole context (as the released LaMPE/SelfExtend/ChunkLlama code does)"
        )
    identity = IdentityRotary(original).to(original.inv_freq.device)
    set_module(model, name, identity)
    binding = RegionBinding(rule=rule, rotary=identity)
    for module in attention_modules(model):
        module.lampe_binding = binding
        if getattr(module, CACHE_HOOK, None) is None:  # removed again by `restore_original`
            setattr(module, CACHE_HOOK, module.register_forward_pre_hook(check_cache, with_kwargs=True))
    model.set_attn_implementation(ATTENTION_NAME)
