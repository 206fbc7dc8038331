"""lampe as an lm-evaluation-harness model type: `--model lampe`.

`LampeLM` is lm-eval's own `HFLM` around a model loaded by `lampe.load_model` and edited by
`lampe.apply_method`, so batching, loglikelihood, generation and chat templates are lm-eval's.
`--model_args` that are HFLM arguments (batch_size, max_length, device, dtype, ...) keep their
lm-eval meaning; every other one is a parameter of `method`, validated exactly as `apply_method`
validates it.

One departure from HFLM: for loglikelihood it right-pads rows with token 0 and calls the model
without an attention mask. Region methods read positions and LaMPE's prefill length L from the
2D mask, so without one every row of a batch would see L = the padded length. `_model_call`
therefore rebuilds the right-padding mask (see `PaddedRows`) whenever a region method is on.

Importing this module registers the name `lampe` with lm-eval (`@register_model`); lm-eval 0.4.13
does not read the `lm_eval.models` entry point, so `python -m evals.lm_eval_cli` imports it first.
"""
from __future__ import annotations

import inspect
import logging
import os

import torch
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

from lampe import EMBEDDED_MODELS, apply_method, get_method, load_model, uses_region_attention

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
    """Parse method parameters as apply_method would, before any model is loaded."""
    cls = get_method(method)
    try:
        values = cls.parse_params(params)
        cls.check(values, None)  # consistency (lampe's one mapping source) without a model
        return values
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


class PaddedRows:
    """Real lengths of the rows HFLM right-pads with zeros in one `_loglikelihood_tokens` call.

    HFLM builds each row as `(context + continuation)[-(max_length + 1):][:-1]` and pads with 0,
    so a row's real length is the longest known input that the row starts with, followed only by
    zeros. Rows that match nothing (e.g. batch-size probing) count as unpadded.
    """

    def __init__(self, requests, max_length: int):
        self.known = set()
        for _, context, continuation in requests:
            row = (list(context) + list(continuation))[-(max_length + 1):][:-1]
            self.known.add((len(row), hash(tuple(row))))

    def mask(self, inps: torch.Tensor) -> torch.Tensor:
        mask = torch.ones_like(inps)
        width = inps.shape[1]
        for b, row in enumerate(inps.tolist()):
            shortest = width
            while shortest > 0 and row[shortest - 1] == 0:
                shortest -= 1
            for length in range(width, shortest - 1, -1):
                if (length, hash(tuple(row[:length]))) in self.known:
                    mask[b, length:] = 0
                    break
        return mask


@register_model("lampe")
class LampeLM(HFLM):
    """HFLM over `lampe.load_model(pretrained)` with `lampe.apply_method(model, method, **params)`.

    `pretrained` may also be an already-loaded model (pass its `tokenizer`): then `method=None`
    keeps whatever method the model already has, which is how the lampe runner wraps its model.
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
        super().__init__(pretrained=model, tokenizer=tokenizer, **hflm_args)
        self.pretrained = name  # a name, not the module: get_model_info and results show it
        self._padded_rows: PaddedRows | None = None

    @property
    def uses_region_attention(self) -> bool:
        return uses_region_attention(self.model)

    @property
    def lampe_method(self) -> dict:
        return dict(getattr(self.model, "lampe_method", {"name": "original"}))

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):
        if self.backend != "causal" or not self.uses_region_attention:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        self._padded_rows = PaddedRows(requests, self.max_length)
        try:
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        finally:
            self._padded_rows = None

    def _model_call(self, inps: torch.Tensor, attn_mask=None, labels=None) -> torch.Tensor:
        if self._padded_rows is None or attn_mask is not None or labels is not None or inps.shape[0] == 1:
            return super()._model_call(inps, attn_mask=attn_mask, labels=labels)
        mask = self._padded_rows.mask(inps)
        with torch.no_grad(), torch.autocast(
            device_type=self.device.type, dtype=self.mixed_precision_dtype,
            enabled=self.mixed_precision_dtype is not None,
        ):
            return self.model(inps, attention_mask=mask).logits

    def get_model_info(self) -> dict:
        """HFLM's info plus the method; no hub lookup for embedded models or local paths."""
        local = self.pretrained is None or self.pretrained in EMBEDDED_MODELS or os.path.exists(self.pretrained)
        if local:
            info = {
                "model_num_parameters": self._model.num_parameters(),
                "model_dtype": str(self._model.dtype),
                "model_revision": self.revision,
                "model_sha": "",
            }
        else:
            info = super().get_model_info()
        return {**info, "lampe_method": self.lampe_method}
