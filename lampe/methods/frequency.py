"""Frequency-only methods: they write `config.rope_parameters` and let transformers do the rest.

The rotary modules are rebuilt from the new config, so inv_freq and attention scaling come from
transformers' own `ROPE_INIT_FUNCTIONS` and the stock attention kernels run unchanged.
"""
from __future__ import annotations

import copy
import math
from types import SimpleNamespace

from lampe.methods.base import PRETRAINING_LENGTH, Method, Param
from lampe.methods.registry import register_method
from lampe.methods.snapshot import rotary_modules, set_module

FACTOR = Param("factor", float, 2.0, low=1.0, doc="context extension factor (target / pretraining length)")


def length_scale(length: int, pretraining_length: int) -> float:
    """s = max(1, L / P) rounded up to 1/1000: the published factor for an input of L tokens (one
    factor per length, never below the stock model, and s * P >= L)."""
    if not pretraining_length or pretraining_length < 1:
        raise ValueError(f"a length rule needs the model's pretraining_length (trained window), got {pretraining_length!r}")
    return max(1.0, math.ceil(1000 * int(length) / int(pretraining_length)) / 1000)


class ScaledByLength:
    """PI, NTK and YaRN as published: factor s = L / P for a target length L."""

    rule_params = ("factor",)

    @classmethod
    def published(cls, length, pretraining_length, values):
        return {"factor": length_scale(length, cls.window(values, pretraining_length))}


def rebuild_rotary(model) -> None:
    """Re-create every rotary module from the (edited) config, on the device it lived on."""
    for name, old in rotary_modules(model).items():
        new = type(old)(config=model.config)
        set_module(model, name, new.to(old.inv_freq.device))


def base_rope_parameters(model) -> dict:
    params = copy.deepcopy(model.config.rope_parameters)
    if not isinstance(params, dict) or "rope_theta" not in params:
        raise NotImplementedError(
            f"{type(model).__name__} has per-layer rope parameters; frequency methods support one RoPE per model"
        )
    if params.get("rope_type", "default") != "default":
        raise NotImplementedError(
            f"The model already uses rope_type '{params['rope_type']}'; frequency methods start from default RoPE"
        )
    return {"rope_theta": params["rope_theta"], **{k: v for k, v in params.items() if k == "partial_rotary_factor"}}


class FrequencyMethod(Method):
    """Subclasses return the new rope_parameters."""

    def rope_parameters(self, model) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def check(cls, values, pretraining_length) -> None:
        """Also build the rope_parameters from a config alone (yarn's beta_slow > beta_fast fails here)."""
        super().check(values, pretraining_length)
        stub = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=pretraining_length,
                                                      rope_parameters={"rope_type": "default", "rope_theta": 1e4}))
        try:
            cls(stub, **dict(values)).rope_parameters(stub)
        except ValueError:
            raise
        except Exception:  # noqa: BLE001 - needs the real model; checked again when applied
            pass

    def apply(self, model) -> None:
        model.config.rope_parameters = self.rope_parameters(model)
        rebuild_rotary(model)


@register_method
class Original(Method):
    name = "original"
    description = "the stock model"
    length_rule = "the stock model: nothing to choose"

    def apply(self, model) -> None:
        pass


@register_method
class PositionInterpolation(ScaledByLength, FrequencyMethod):
    name = "pi"
    params = (FACTOR,)
    length_rule = "factor s = L / P (Chen et al. 2023: positions divided by s)"
    description = "linear position interpolation (Chen et al. 2023): positions divided by factor"

    def rope_parameters(self, model):
        return {**base_rope_parameters(model), "rope_type": "linear", "factor": self.values["factor"]}


@register_method
class StaticNTK(ScaledByLength, FrequencyMethod):
    name = "ntk"
    params = (FACTOR,)
    length_rule = "NTK-aware alpha = s = L / P: theta' = theta * s^(d/(d-2)), d = rotary dim"
    description = "static NTK-aware scaling: rope base times factor^(d/(d-2)) (transformers has no static type)"

    def rope_parameters(self, model):
        params = base_rope_parameters(model)
        head_dim = getattr(model.config, "head_dim", None) or (
            model.config.hidden_size // model.config.num_attention_heads
        )
        dim = int(head_dim * params.get("partial_rotary_factor", 1.0))
        params["rope_theta"] = params["rope_theta"] * self.values["factor"] ** (dim / (dim - 2))
        return {**params, "rope_type": "default"}


def dynamic_alpha(factor: float, length: int, pretraining_length: int) -> float:
    """transformers' dynamic NTK alpha at a current length n: factor * n / P - (factor - 1), n >= P."""
    return factor * max(int(length), int(pretraining_length)) / int(pretraining_length) - (factor - 1)


@register_method
class DynamicNTK(FrequencyMethod):
    name = "dynamic_ntk"
    params = (FACTOR,)
    description = "dynamic NTK scaling: base grows with the current length past max_position_embeddings"
    # alpha(n) = f n / P - (f - 1) equals the NTK rule's n / P at every n > P only for f = 1
    # (at f = 2 a 32k prompt on an 8k model gets alpha 7 where NTK's rule gives 4)
    length_rule = "factor 1: alpha(n) = n / P at the current length n, the NTK rule's alpha at every length"
    rule_params = ("factor",)

    @classmethod
    def published(cls, length, pretraining_length, values):
        return {"factor": 1.0}

    @classmethod
    def effective_params(cls, values, length, pretraining_length):
        found = super().effective_params(values, length, pretraining_length)
        if pretraining_length and values.get("factor") is not None:
            found["alpha"] = round(dynamic_alpha(values["factor"], length, pretraining_length), 6)
        return found

    def rope_parameters(self, model):
        return {**base_rope_parameters(model), "rope_type": "dynamic", "factor": self.values["factor"]}


@register_method
class YaRN(ScaledByLength, FrequencyMethod):
    name = "yarn"
    length_rule = "factor s = L / P, beta_fast 32, beta_slow 1 (Peng et al. 2023)"
    params = (
        FACTOR,
        Param("beta_fast", float, 32.0, low=0.0),
        Param("beta_slow", float, 1.0, low=0.0),
        PRETRAINING_LENGTH,
    )
    description = "YaRN (Peng et al. 2023): NTK-by-parts interpolation plus attention temperature"

    @classmethod
    def effective_params(cls, values, length, pretraining_length):
        found = super().effective_params(values, length, pretraining_length)
        if cls.window(values, pretraining_length):
            found["pretraining_length"] = cls.window(values, pretraining_length)
        if values.get("factor") is not None:  # transformers' default yarn attention factor
            factor = values["factor"]
            found["attention_factor"] = round(0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0, 6)
        return found

    def rope_parameters(self, model):
        if self.values["beta_slow"] > self.values["beta_fast"]:
            raise ValueError(
                f"Invalid yarn.beta_slow={self.values['beta_slow']}: must not exceed beta_fast={self.values['beta_fast']}"
            )
        return {
            **base_rope_parameters(model),
            "rope_type": "yarn",
            "factor": self.values["factor"],
            "beta_fast": self.values["beta_fast"],
            "beta_slow": self.values["beta_slow"],
            "original_max_position_embeddings": self.pretraining_length,
        }
