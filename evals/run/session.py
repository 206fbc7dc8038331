"""What one process keeps from run to run: the loaded model (a multirun over methods loads it
once), the model's tokenizer, and the configs whose samples were already built and checked.

The command line keeps one `Session` for all the runs Hydra hands it, the study one for all its
jobs; `runner.run(cfg)` without one starts afresh. Nothing of it lives at module level.
"""
from __future__ import annotations

import json
import os

import torch

from lampe import load_model, load_tokenizer

# model config keys that say how to load it (not what it computes)
LOAD_KEYS = ("name_or_path", "dtype", "device", "device_map", "attn_implementation", "trust_remote_code")


def load_arguments(model_cfg: dict) -> tuple[str, dict]:
    """(a key naming this load, lampe.load_model's keyword arguments)."""
    kwargs = {k: model_cfg.get(k) for k in LOAD_KEYS}
    if kwargs["device"] is None and kwargs["device_map"] is None and "LOCAL_RANK" in os.environ:
        if torch.cuda.is_available():  # one model per GPU under torchrun / accelerate launch
            kwargs["device"] = f"cuda:{os.environ['LOCAL_RANK']}"
    return json.dumps(kwargs, sort_keys=True), kwargs


class Session:
    """The loaded model and tokenizer (the last one each: a new one replaces it), and the
    preflight's memory of what it has built."""

    def __init__(self):
        self.model_key: str | None = None
        self.model = None  # (model, tokenizer)
        self.tokenizer_name: str | None = None
        self.tokenizer = None
        self.checked: set[str] = set()  # preflight keys of configs already built in this process

    def has_model(self, model_cfg: dict) -> bool:
        return load_arguments(model_cfg)[0] == self.model_key

    def get_model(self, model_cfg: dict):
        """(model, tokenizer), loaded once per load configuration."""
        key, kwargs = load_arguments(model_cfg)
        if key != self.model_key:
            self.model_key, self.model = None, None  # the old one goes before the new one loads
            name_or_path = kwargs.pop("name_or_path")
            kwargs["dtype"] = kwargs["dtype"] or "auto"
            self.model = load_model(name_or_path, **kwargs)
            self.model_key = key
        return self.model

    def get_tokenizer(self, model_cfg: dict):
        """The model's tokenizer, loaded once; a failure names model.name_or_path."""
        name = model_cfg["name_or_path"]
        if name != self.tokenizer_name:
            try:
                tokenizer = load_tokenizer(name, trust_remote_code=bool(model_cfg.get("trust_remote_code")))
            except (OSError, ValueError, ImportError) as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise ValueError(f"Invalid model.name_or_path={name!r}: its tokenizer cannot be loaded ({first})") from None
            self.tokenizer_name, self.tokenizer = name, tokenizer
        return self.tokenizer
