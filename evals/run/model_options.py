"""The model's options, checked before any weight is read, each error naming the option.

`model.dtype=float8` or `model.device=tpu` would otherwise surface as a transformers or torch
traceback, after the tokenizer (and for the device, the weights) had loaded; a hub id under
`HF_HUB_OFFLINE=1` as transformers' message, which does not say which option to change. Here:
dtype, device (and whether this machine has it), attention kernel, pretraining length, and where
the weights are: an embedded name, a local folder with a config.json, or a hub id. The model's
shape (`model_config`) comes from its config.json alone, for the length and memory guard.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from evals.files.layout import RESERVED
from lampe import ATTENTION_NAME, DTYPES, EMBEDDED_MODELS, INT_LIMIT, embedded_config

DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")


def check_name(value: Any) -> None:
    """model.name must not be a folder that `make table`, wandb or the study write under results_dir."""
    if isinstance(value, str) and value.lower() in RESERVED:
        raise ValueError(f"Invalid model.name={value!r}: results_dir/{value}/ belongs to "
                         f"{'make table' if value.lower() == 'tables' else value.lower()}; reserved names: "
                         f"{', '.join(RESERVED)}")


def check_dtype(value: Any) -> None:
    if value is not None and value not in DTYPES:
        raise ValueError(f"Invalid model.dtype={value!r}. Valid choices: {', '.join(DTYPES)}")


def attention_kernels() -> list[str]:
    """Kernels transformers can run here: eager plus its registered ones (lampe's own is set by
    region methods, never chosen)."""
    return ["eager"] + [k for k in ALL_ATTENTION_FUNCTIONS.keys() if k != ATTENTION_NAME]


def check_attn_implementation(value: Any) -> None:
    if value is None:
        return
    valid = attention_kernels()
    name = value.split("|", 1)[1] if isinstance(value, str) and value.startswith("paged|") else value
    if isinstance(name, str) and (name in valid or name.count("/") == 1):  # org/name: a hub kernel
        return
    raise ValueError(f"Invalid model.attn_implementation={value!r}. Valid choices: {', '.join(valid)}, "
                     f"or a hub kernel 'org/name' (null: transformers' choice)")


def check_device(value: Any) -> None:
    """A device this machine has: cpu, cuda[:N] (with CUDA), mps, xpu."""
    if value is None:
        return

    try:
        device = torch.device(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        raise ValueError(f"Invalid model.device={value!r}. Valid choices: {', '.join(DEVICE_TYPES)} "
                         f"(cuda:N for one GPU), or null (cuda when available, else cpu)")
    backend = getattr(torch, device.type, None) if device.type != "mps" else torch.backends.mps
    if device.type != "cpu" and not (backend is not None and backend.is_available()):
        raise ValueError(f"Invalid model.device={value!r}: this machine has no {device.type.upper()} device "
                         f"(use model.device=cpu, or null to pick what is there)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"Invalid model.device={value!r}: this machine has {torch.cuda.device_count()} CUDA "
                         f"device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")


def check_pretraining_length(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= INT_LIMIT:
        raise ValueError(f"Invalid model.pretraining_length={value!r}: expected an integer in [1, {INT_LIMIT}] "
                         f"(the model's trained window in tokens), or null")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def model_config(model_cfg: dict) -> dict:
    """The model's config.json as a dict, without its weights; ValueError naming
    model.name_or_path when there is none to be had (missing folder, folder without a config,
    a hub id that is not cached while offline)."""
    name = model_cfg.get("name_or_path")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"Invalid model.name_or_path={name!r}: expected an embedded name "
                         f"({', '.join(EMBEDDED_MODELS)}), a local folder or a hub id")
    if name in EMBEDDED_MODELS:
        return embedded_config(name)
    folder = Path(os.path.expanduser(name))
    if folder.is_dir():
        path = folder / "config.json"
        if not path.is_file():
            raise ValueError(f"Invalid model.name_or_path={name!r}: the folder has no config.json, so it is not a "
                             f"transformers model folder (save one with model.save_pretrained(folder))")
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"Invalid model.name_or_path={name!r}: cannot read {path}: {err}") from None
        if not isinstance(config, dict):
            raise ValueError(f"Invalid model.name_or_path={name!r}: {path} does not hold a JSON object")
        return config
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ValueError(f"Invalid model.name_or_path={name!r}: no such folder (and not a hub id 'org/name')")
    return _hub_config(name, bool(model_cfg.get("trust_remote_code")))


def _hub_config(name: str, trust_remote_code: bool) -> dict:
    try:
        return AutoConfig.from_pretrained(name, trust_remote_code=trust_remote_code).to_dict()
    except (OSError, ValueError) as err:
        if _offline():
            raise ValueError(f"Invalid model.name_or_path={name!r}: not a local folder and not in the hub cache, "
                             f"and HF_HUB_OFFLINE=1 forbids downloading it (download it once online, or give a "
                             f"local folder)") from None
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"Invalid model.name_or_path={name!r}: its config cannot be loaded ({first})") from None


def check_model_options(model_cfg: dict) -> None:
    """Every model option that needs no weights: name, dtype, device, kernel, pretraining length."""
    check_name(model_cfg.get("name"))
    check_dtype(model_cfg.get("dtype"))
    check_device(model_cfg.get("device"))
    check_attn_implementation(model_cfg.get("attn_implementation"))
    check_pretraining_length(model_cfg.get("pretraining_length"))
