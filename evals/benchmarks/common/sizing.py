"""Sizing a generated prompt to a length: its tokens as the model will read them, a search for the
largest haystack that fits, and stable seeds. Shared by the generated benchmarks (passkey,
needle, RULER)."""
from __future__ import annotations

import hashlib
from typing import Any, Callable

from evals.benchmarks.base import Sample
from evals.benchmarks.common.lm import LanguageModel


def derive_seed(*parts: Any) -> int:
    """A stable seed from any parts (Python's hash() is salted per process)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


class PromptCounter:
    """Token length of a prompt exactly as evals.benchmarks.common.lm.LanguageModel will feed it (no truncation), in
    one prompt format; `fields` are the other Sample fields that shape it (official, special_tokens).
    The family is read from the tokenizer's chat template, as the run's model reads it (a run with
    model.chat_template=false sends `base` prompts, a few tokens shorter than counted here)."""

    def __init__(self, tokenizer, prompt_format: str = "chat", **fields: Any):
        self.tokenizer = tokenizer
        self.lm = LanguageModel(None, tokenizer, max_length=None)
        self.fields = {"prompt_format": prompt_format, **fields}

    def raw(self, text: str) -> int:
        """Tokens of bare text (no template, no special tokens), RULER's text_to_tokens."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def __call__(self, text: str, answer_prefix: str = "", history: list[tuple[str, str]] = ()) -> int:
        sample = Sample(id="count", task="count", prompt=text, references=[], max_new_tokens=0,
                        answer_prefix=answer_prefix, history=list(history), **self.fields)
        return len(self.lm.prompt_ids(sample))


def fit_size(tokens_at: Callable[[int], int], budget: int, start: int, tolerance: int = 0,
             max_tries: int = 40) -> int | None:
    """Largest haystack size n >= 1 whose prompt fits `budget` tokens, or None if n = 1 does not.

    Prompts grow about linearly with n, so each guess follows the line through the last two
    sizes tried (secant), kept inside the bracket of the best fitting and smallest too-long size
    and halving it every third try; it stops once a fitting size is within `tolerance` tokens of
    the budget. A handful of tokenizations at any length, where RULER's fixed-step search needs
    many at long lengths and stops up to a step (hundreds of tokens) short.
    """
    guess = max(1, int(start))
    lo = hi = None  # (size, tokens): the largest fitting, the smallest too-long size so far
    last = None
    for turn in range(max_tries):
        tokens = tokens_at(guess)
        if tokens <= budget:
            if lo is None or guess > lo[0]:
                lo = (guess, tokens)
        elif hi is None or guess < hi[0]:
            hi = (guess, tokens)
        if lo is not None and (budget - lo[1] <= tolerance or (hi is not None and hi[0] - lo[0] <= 1)):
            return lo[0]
        if lo is None and hi[0] == 1:
            return None
        slope = (tokens - last[1]) / (guess - last[0]) if last and last[0] != guess else 0.0
        if slope <= 0:
            slope = tokens / guess  # the average cost per unit: overestimates, so it undershoots
        last = (guess, tokens)
        target = guess + int((budget - tokens) / slope)
        if lo is not None and hi is not None:
            target = (lo[0] + hi[0]) // 2 if turn % 3 == 2 else target
            guess = min(max(target, lo[0] + 1), hi[0] - 1)
        elif lo is not None:
            guess = max(target, lo[0] + 1)
        else:
            guess = max(1, min(target, hi[0] - 1))
    return lo[0] if lo is not None else None
