"""The model as benchmarks see it: prompt building (truncation, chat template) and greedy decoding.

Truncation follows LongBench: a prompt longer than `max_length` tokens keeps its first and last
max_length/2 tokens (the question usually sits at one end). The chat template wraps the truncated
prompt for chat models unless the sample opts out (`Sample.chat = False`).
"""
from __future__ import annotations

import torch

from evals.base import Sample


class LanguageModel:
    def __init__(self, model, tokenizer, *, max_length: int | None = None, chat_template: bool = True):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.chat_template = chat_template and getattr(tokenizer, "chat_template", None) is not None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def truncate_middle(self, text: str) -> str:
        """Keep the first and last max_length/2 tokens of `text` (LongBench's rule)."""
        if self.max_length is None:
            return text
        ids = self.encode(text)
        if len(ids) <= self.max_length:
            return text
        half = self.max_length // 2
        return self.tokenizer.decode(ids[:half], skip_special_tokens=True) + self.tokenizer.decode(
            ids[-half:], skip_special_tokens=True
        )

    def prompt_ids(self, sample: Sample) -> list[int]:
        text = self.truncate_middle(sample.prompt)
        if self.chat_template and sample.chat:
            text = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = self.tokenizer(text)["input_ids"]  # raw prompts keep the BOS token if the model has one
        if sample.answer_prefix:
            ids = ids + self.encode(sample.answer_prefix)
        return ids

    @torch.no_grad()
    def generate(self, sample: Sample) -> tuple[str, int]:
        """Greedy completion of one sample; returns (text, prompt length in tokens)."""
        ids = self.prompt_ids(sample)
        input_ids = torch.tensor([ids], device=self.device)
        output = self.model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=sample.max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=self.tokenizer.pad_token_id,
            **({"stop_strings": sample.stop, "tokenizer": self.tokenizer} if sample.stop else {}),
        )
        text = self.tokenizer.decode(output[0, len(ids):], skip_special_tokens=True)
        for stop in sample.stop:
            text = text.split(stop)[0]
        return (text.strip() if sample.strip else text), len(ids)
