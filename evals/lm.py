"""The model as benchmarks see it: prompt building (truncation, chat template) and greedy decoding.

Truncation follows LongBench: a prompt longer than `max_length` tokens keeps its first and last
max_length/2 tokens (the question usually sits at one end). The chat template wraps the truncated
prompt for chat models unless the sample opts out (`Sample.chat = False`); a sample's `history`
(earlier exchanges) becomes previous user/assistant turns, or plain text in front of a raw
prompt. The answer prefix is
tokenized together with the prompt, as the official scripts do: tokenized alone, a prefix that
starts with a space or newline gains an extra "▁" token under SentencePiece tokenizers (Llama-2,
Mistral). Decoding is plain greedy (evals.greedy.GREEDY), whatever the checkpoint ships.
"""
from __future__ import annotations

import torch

from evals.base import Sample
from evals.greedy import GREEDY


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

    def prompt_ids(self, sample: Sample, continuation: str = "") -> list[int]:
        """The prompt's tokens (with `continuation` after the answer prefix, tokenized together)."""
        text = self.truncate_middle(sample.prompt)
        if self.chat_template and sample.chat:
            turns = [{"role": role, "content": content} for exchange in sample.history
                     for role, content in zip(("user", "assistant"), exchange)]
            text = self.tokenizer.apply_chat_template(
                turns + [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
            return self.tokenizer(text + sample.answer_prefix + continuation, add_special_tokens=False)["input_ids"]
        before = "".join(user + assistant + "\n" for user, assistant in sample.history)
        return self.tokenizer(before + text + sample.answer_prefix + continuation)["input_ids"]  # raw: BOS stays

    def generation_settings(self) -> dict:
        """The decoding settings of every `generate` call, JSON-able, for a run's recorded config."""
        eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        return {**GREEDY, "eos_token_id": eos, "pad_token_id": self.tokenizer.pad_token_id}

    @torch.no_grad()
    def generate(self, sample: Sample) -> tuple[str, int]:
        """Greedy completion of one sample; returns (text, prompt length in tokens)."""
        text, prompt_tokens, _ = self._generate(sample)
        return text, prompt_tokens

    @torch.no_grad()
    def generate_with_logprob(self, sample: Sample, answer: str) -> tuple[str, int, float, int]:
        """Greedy completion plus log p(answer | prompt), teacher-forced after the same prefill.

        The answer is tokenized together with the prompt (as a model reads it). Its first token's
        log-probability comes from the generation's first step; the cache is then cut back to the
        prompt and the rest of the answer is fed as decode steps, so the prompt is prefilled once.
        Returns (text, prompt tokens, log-probability, answer tokens).
        """
        ids, full = self.prompt_ids(sample), self.prompt_ids(sample, answer)
        if full[:len(ids)] != ids or len(full) == len(ids):
            raise ValueError(f"answer {answer!r} does not tokenize as a continuation of the prompt")
        target = full[len(ids):]
        text, prompt_tokens, output = self._generate(sample, ids, score=True)
        logprob = torch.log_softmax(output.logits[0][0].float(), -1)[target[0]].item()  # step 0, batch row 0
        if len(target) > 1:
            cache = output.past_key_values
            extra_tokens = cache.get_seq_length() - len(ids)  # the generated ones
            if extra_tokens:
                cache.crop(-extra_tokens)  # transformers 5: a negative count removes that many
            step = torch.tensor([target[:-1]], device=self.device)
            logits = self.model(step, cache=cache, use_cache=True).logits[0].float()
            logprob += torch.log_softmax(logits, -1).gather(1, torch.tensor(target[1:], device=self.device)[:, None]).sum().item()
        return text, prompt_tokens, logprob, len(target)

    def _generate(self, sample: Sample, ids: list[int] | None = None, score: bool = False):
        ids = self.prompt_ids(sample) if ids is None else ids
        input_ids = torch.tensor([ids], device=self.device)
        extra = {"return_dict_in_generate": True, "output_logits": True} if score else {}
        output = self.model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=sample.max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            **GREEDY,
            **({"stop_strings": sample.stop, "tokenizer": self.tokenizer} if sample.stop else {}),
            **extra,
        )
        sequences = output.sequences if score else output
        text = self.tokenizer.decode(sequences[0, len(ids):], skip_special_tokens=True)
        for stop in sample.stop:
            text = text.split(stop)[0]
        return (text.strip() if sample.strip else text), len(ids), output
