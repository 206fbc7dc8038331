"""Frequency-only methods: they write `config.rope_parameters` and let transformers do the rest.

The rotary modules are rebuilt from the new config, so inv_freq and attention scaling come from
transformers' own `ROPE_INIT_FUNCTIONS` and the stock attention kernels run unchanged.
"""
from __future__ import annotations

import copy
from types import SimpleNamespace

from lampe.methods.base import PRETRAINING_LENGTH, Method, Param
from lampe.methods.registry import register_method
from lampe.methods.snapshot import rotary_modules, set_module

FACTOR = Param("factor", float, 2.0, low=1.0, doc="context extension factor (target / pretraining length)")


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

    def apply(self, model) -> None:
        pass


@register_method
class PositionInterpolation(FrequencyMethod):
    name = "pi"
    params = (FACTOR,)
    description = "linear position interpolation (Chen et al. 2023): positions divided by factor"

    def rope_parameters(self, model):
        return {**base_rope_parameters(model), "rope_type": "linear", "factor": self.values["factor"]}


@register_method
class StaticNTK(FrequencyMethod):
    name = "ntk"
    params = (FACTOR,)
    description = "static NTK-aware scaling: rope base times factor^(d/(d-2)) (transformers has no static type)"

    def rope_parameters(self, model):
        params = base_rope_parameters(model)
        head_dim = getattr(model.config, "head_dim", None) or (
            model.config.hidden_size // model.config.num_attention_heads
        )
        dim = int(head_dim * params.get("partial_rotary_factor", 1.0))
        params["rope_theta"] = params["rope_theta"] * self.values["factor"] ** (dim / (dim - 2))
        return {**params, "rope_type": "default"}


@register_method
class DynamicNTK(FrequencyMethod):
    name = "dynamic_ntk"
    params = (FACTOR,)
    description = "dynamic NTK scaling: base grows with the current length past max_position_embeddings"

    def rope_parameters(self, model):
        return {**base_rope_parameters(model), "rope_type": "dynamic", "factor": self.values["factor"]}


@register_method
class YaRN(FrequencyMethod):
    name = "yarn"
    params = (
        FACTOR,
        Param("beta_fast", float, 32.0, low=0.0),
        Param("beta_slow", float, 1.0, low=0.0),
        PRETRAINING_LENGTH,
    )
    description = "YaRN (Peng et al. 2023): NTK-by-parts interpolation plus attention temperature"

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
