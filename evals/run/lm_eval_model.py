"""lampe as an lm-evaluation-harness model type: `--model lampe`.

`LampeLM` loads a model by name (`lampe.load_model`), applies a method (`lampe.apply_method`) and
is then lm-eval's own HFLM around it (evals.benchmarks.lm_eval_tasks.adapter.LoadedLM, with its
padding fix for region methods). `--model_args` that are HFLM arguments (batch_size, max_length,
device, dtype, ...) keep their lm-eval meaning; every other one is a parameter of `method`,
checked by the runner's own `evals.run.config.method_values` before any model loads.

Importing this module registers the name `lampe` with lm-eval (`@register_model`); lm-eval 0.4.13
does not read the `lm_eval.models` entry point, so `python -m evals.lm_eval_cli` imports it first.
"""
from __future__ import annotations

import inspect
import logging

import torch
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

from evals.benchmarks.lm_eval_tasks.adapter import LoadedLM
from evals.run.config import method_values
from lampe import apply_method, load_model

log = logging.getLogger(__name__)

HFLM_ARGS = frozenset(inspect.signature(HFLM.__init__).parameters) - {"self", "kwargs"}
# from_pretrained keyword arguments HFLM forwards through **kwargs; lampe.load_model takes these.
LOADER_ARGS = ("attn_implementation", "device_map")
# HFLM arguments that only act while HFLM loads the model itself: we load it, so refuse them
# rather than ignore them silently (value = HFLM's default, which is accepted).
UNSUPPORTED_ARGS = {
    "revision": "main", "subfolder": "", "peft": None, "delta": None, "autogptq": False, "gptqmodel": False,
    "gguf_file": None, "tp_plan": None, "max_memory_per_gpu": None, "max_cpu_memory": None,
    "offload_folder": "./offload",
}


def split_model_args(kwargs: dict) -> tuple[dict, dict, dict]:
    """(HFLM arguments, loader arguments, method parameters) from lm-eval's model_args."""
    hflm, loader, method = {}, {}, {}
    for key, value in kwargs.items():
        if key in LOADER_ARGS:
            loader[key] = value
        elif key in HFLM_ARGS:
            hflm[key] = value
        else:
            method[key] = value
    for key, default in UNSUPPORTED_ARGS.items():
        if key in hflm and hflm[key] != default:
            raise ValueError(
                f"model_arg {key}={hflm[key]!r} is not supported by --model lampe (lampe.load_model loads the "
                f"model); use --model hf for it"
            )
        hflm.pop(key, None)
    return hflm, loader, method


def validate_method(method: str, params: dict) -> dict:
    """The method's values as the runner decides them (evals.run.config.method_values), before any
    model is loaded; an unknown parameter is named as a model_arg."""
    try:
        return method_values({"name": method, **params}, {})
    except ValueError as err:
        if str(err).startswith("Unknown parameter"):
            raise ValueError(
                f"{err} (model_args that are not lm-eval HFLM arguments are parameters of the method)"
            ) from None
        raise


def available_device(device) -> str | None:
    """lm-eval's CLI asks for cuda:0 by default; like HFLM, use the CPU where there is no such device."""
    if device is None:
        return None
    kind = str(device).split(":")[0]
    if (kind == "cuda" and not torch.cuda.is_available()) or (kind == "mps" and not torch.backends.mps.is_available()):
        log.info("device %s is not available, using cpu", device)
        return "cpu"
    return str(device)


@register_model("lampe")
class LampeLM(LoadedLM):
    """HFLM over `lampe.load_model(pretrained)` with `lampe.apply_method(model, method, **params)`.

    `pretrained` may also be an already-loaded model (pass its `tokenizer`): then `method=None`
    keeps whatever method the model already has.
    """

    def __init__(self, pretrained="smollm2", method: str | None = None, tokenizer=None, **kwargs):
        hflm_args, loader_args, method_params = split_model_args(kwargs)
        if isinstance(pretrained, str):
            method = method or "original"
        elif method is None and method_params:
            raise ValueError(f"method parameters {sorted(method_params)} given without method=")
        if method is not None:
            validate_method(method, method_params)

        name = pretrained if isinstance(pretrained, str) else getattr(pretrained, "name_or_path", None)
        if isinstance(pretrained, str):
            if hflm_args.pop("parallelize", False):
                loader_args.setdefault("device_map", "auto")
            model, loaded_tokenizer = load_model(
                pretrained,
                dtype=hflm_args.get("dtype") or "auto",
                device=available_device(hflm_args.get("device")),
                trust_remote_code=bool(hflm_args.get("trust_remote_code") or False),
                **loader_args,
            )
            if tokenizer is None:
                tokenizer = loaded_tokenizer
        else:
            if loader_args:
                raise ValueError(f"{sorted(loader_args)} need pretrained to be a name or path, not a loaded model")
            model = pretrained
        if method is not None:
            apply_method(model, method, **method_params)

        if method not in (None, "original") and hflm_args.get("max_length") is None:
            log.warning(
                "lm-eval left-truncates inputs to max_length=%s (the model's window); pass max_length=<tokens> "
                "in model_args to evaluate %s beyond it", model.config.max_position_embeddings, method,
            )
        super().__init__(model, tokenizer, name=name, **hflm_args)
