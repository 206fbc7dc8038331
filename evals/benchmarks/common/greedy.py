"""The decoding settings every generation benchmark uses: plain greedy, nothing else.

`model.generate` fills any setting left unset from the checkpoint's `generation_config`, so a
shipped `repetition_penalty`, `no_repeat_ngram_size` or `suppress_tokens` would still reshape
the logits under `do_sample=False`. That hurts tasks whose answer repeats tokens (RULER cwe/fwe,
multi-value needles, code), and differs between checkpoints. The official LongBench, L-Eval and
RULER runs decode greedily; these values switch every logits processor off explicitly, and the
three stopping rules a checkpoint can ship besides its EOS (a time limit, stop strings, a
watermark that reshapes the logits) too. The end of generation (eos/pad tokens) stays the model's
own; a sample's own stop strings and extra EOS tokens are added per call (evals.benchmarks.common.lm).
"""
from __future__ import annotations

from typing import Any

GREEDY: dict[str, Any] = {
    "do_sample": False,
    "num_beams": 1,
    "num_return_sequences": 1,
    "repetition_penalty": 1.0,
    "encoder_repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0,
    "length_penalty": 1.0,
    "min_length": 0,
    "min_new_tokens": None,
    "bad_words_ids": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "sequence_bias": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "exponential_decay_length_penalty": None,
    "renormalize_logits": False,
    "remove_invalid_values": False,
    "guidance_scale": None,
    "penalty_alpha": None,
    "dola_layers": None,
    "temperature": None,
    "top_k": None,
    "top_p": None,
    "typical_p": None,
    "min_p": None,
    "epsilon_cutoff": None,
    "eta_cutoff": None,
    "max_time": None,
    "stop_strings": None,
    "watermarking_config": None,
}
