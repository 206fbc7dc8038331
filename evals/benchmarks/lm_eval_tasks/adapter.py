"""lm-eval's view of a model lampe has loaded and edited: lm-eval's own `HFLM` around it, so
batching, loglikelihood, generation and chat templates are lm-eval's.

One departure from HFLM: for loglikelihood it right-pads rows with token 0 and calls the model
without an attention mask. Region methods read positions and LaMPE's prefill length L from the
2D mask, so without one every row of a batch would see L = the padded length. `_model_call`
therefore rebuilds the right-padding mask (see `PaddedRows`) whenever a region method is on.

The `lm_eval` benchmark wraps the runner's model in it; `--model lampe` (evals.run.lm_eval_model)
loads a model by name, applies a method and is one too.
"""
from __future__ import annotations

import os

import torch
from lm_eval.models.huggingface import HFLM

from lampe import EMBEDDED_MODELS, uses_region_attention


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


class LoadedLM(HFLM):
    """HFLM over an already-loaded model (with whatever method it has); `name`: what results show."""

    def __init__(self, model, tokenizer, name: str | None = None, **hflm_args):
        super().__init__(pretrained=model, tokenizer=tokenizer, **hflm_args)
        self.pretrained = name or getattr(model, "name_or_path", None)  # a name, not the module: get_model_info shows it
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
