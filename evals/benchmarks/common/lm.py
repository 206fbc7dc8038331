"""The model as benchmarks see it: prompt building (truncation, prompt format) and greedy decoding.

Truncation follows LongBench: a prompt longer than `max_length` tokens keeps its first and last
max_length/2 tokens (the question usually sits at one end); under `official` the count includes
the tokenizer's own special tokens (BOS), as LongBench's pred.py counts them. InfiniteBench's
scripts decode the kept tokens as one sequence instead (`Sample.truncation = "joined"`). The text then
reaches the model in the sample's prompt format (evals.benchmarks.common.prompt_format): `chat` wraps it in the
chat template unless the sample opts out (`Sample.chat = False`), its `history` (earlier
exchanges) becoming previous user/assistant turns; `raw` is the bare text, history in front as
plain text; `official` wraps prompt and history in the benchmark script's text for the model's
family (`Sample.official`) and tokenizes the whole string, special-token text included, the way
the script does. The answer prefix is tokenized together with the prompt, as the official
scripts do: tokenized alone, a prefix that starts with a space or newline gains an extra "▁"
token under SentencePiece tokenizers (Llama-2, Mistral). Decoding is plain greedy
(evals.benchmarks.common.greedy.GREEDY), whatever the checkpoint ships.
"""
from __future__ import annotations

import torch

from evals.benchmarks.base import Sample
from evals.benchmarks.common.greedy import GREEDY
from evals.benchmarks.common.prompt_format import FORMATS, check_family, detect_family

TRUNCATIONS = ("halves", "joined")  # Sample.truncation: how a long prompt loses its middle


class LanguageModel:
    """`family` (evals.benchmarks.common.prompt_format.FAMILIES) overrides the one read from the tokenizer's chat
    template; `chat_template=False` makes the model a base model (no template, family `base`)."""

    def __init__(self, model, tokenizer, *, max_length: int | None = None, chat_template: bool = True,
                 family: str | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.chat_template = chat_template and getattr(tokenizer, "chat_template", None) is not None
        self.family = check_family(family) if family is not None else detect_family(tokenizer, chat_template)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def truncate_middle(self, text: str, special_tokens: bool = False, truncation: str = "halves") -> str:
        """Keep the first and last max_length/2 tokens of `text`; with `special_tokens` the count
        includes the tokenizer's own (BOS), as pred.py counts. `halves` (LongBench's pred.py)
        decodes each half alone and leaves a text that fits as it is; `joined` (InfiniteBench's
        scripts) decodes the kept tokens as one sequence, and sends every text through that round
        trip, cut or not (SentencePiece keeps the space at the seam that a lone decode drops)."""
        if truncation not in TRUNCATIONS:
            raise ValueError(f"Invalid truncation {truncation!r}. Valid choices: {', '.join(TRUNCATIONS)}")
        if self.max_length is None:
            return text
        ids = self.tokenizer(text, add_special_tokens=special_tokens)["input_ids"]
        half = self.max_length // 2
        if truncation == "joined":
            kept = ids if len(ids) <= self.max_length else ids[:half] + ids[-half:]
            return self.tokenizer.decode(kept, skip_special_tokens=True)
        if len(ids) <= self.max_length:
            return text
        return self.tokenizer.decode(ids[:half], skip_special_tokens=True) + self.tokenizer.decode(
            ids[-half:], skip_special_tokens=True
        )

    def prompt_ids(self, sample: Sample, continuation: str = "") -> list[int]:
        """The prompt's tokens (with `continuation` after the answer prefix, tokenized together)."""
        if sample.prompt_format not in FORMATS:
            raise ValueError(f"sample '{sample.id}': unknown prompt_format {sample.prompt_format!r}. "
                             f"Valid choices: {', '.join(FORMATS)}")
        text = self.truncate_middle(sample.prompt, special_tokens=sample.prompt_format == "official",
                                    truncation=sample.truncation)
        return _RENDER[sample.prompt_format](self, sample, text, sample.answer_prefix + continuation)

    def _chat(self, sample: Sample, text: str, tail: str) -> list[int]:
        """The model's chat template (a model without one, or a sample that opts out: raw)."""
        if not (self.chat_template and sample.chat):
            return self._raw(sample, text, tail)
        turns = [{"role": role, "content": content} for exchange in sample.history
                 for role, content in zip(("user", "assistant"), exchange)]
        text = self.tokenizer.apply_chat_template(
            turns + [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
        return self.tokenizer(text + tail, add_special_tokens=False)["input_ids"]

    def _raw(self, sample: Sample, text: str, tail: str) -> list[int]:
        """The bare text, earlier exchanges in front (user + assistant + newline)."""
        before = "".join(user + assistant + "\n" for user, assistant in sample.history)
        return self.tokenizer(before + text + tail, add_special_tokens=sample.special_tokens)["input_ids"]

    def _official(self, sample: Sample, text: str, tail: str) -> list[int]:
        """The script's text for this family around every prompt, as one string: special-token
        text in it ("<|begin_of_text|>") becomes those tokens, and the tokenizer adds its own."""
        open_, close = sample.official.get(self.family, ("", ""))
        before = "".join(open_ + user + close + assistant + "\n" for user, assistant in sample.history)
        whole = before + open_ + text + close + tail
        return self.tokenizer(whole, add_special_tokens=sample.special_tokens)["input_ids"]

    def eos_ids(self, sample: Sample) -> list[int] | None:
        """The end-of-sequence ids for a sample with `eos_texts` (None: the model's own). Under
        `official` exactly LongBench's list (the tokenizer's EOS, then each text's last token);
        otherwise the model's EOS ids and the tokenizer's come first."""
        if not sample.eos_texts:
            return None
        extra = [self.tokenizer(t, add_special_tokens=False)["input_ids"][-1] for t in sample.eos_texts]
        ends = [self.tokenizer.eos_token_id]
        if sample.prompt_format != "official":
            model_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
            ends = ([model_eos] if isinstance(model_eos, int) else list(model_eos or [])) + ends
        return list(dict.fromkeys(i for i in ends + extra if i is not None))

    def generation_settings(self) -> dict:
        """The decoding settings of every `generate` call, JSON-able, for a run's recorded config
        (with the model family `official` prompts are rendered for)."""
        eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        return {**GREEDY, "eos_token_id": eos, "pad_token_id": self.tokenizer.pad_token_id, "family": self.family}

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
        settings = {**GREEDY, "max_new_tokens": sample.max_new_tokens, "pad_token_id": self.tokenizer.pad_token_id,
                    **extra}
        if sample.stop:
            settings.update(stop_strings=sample.stop, tokenizer=self.tokenizer)
        eos = self.eos_ids(sample)
        if eos is not None:  # LongBench samsum: min_length = prompt + 1, i.e. one new token first
            settings.update(eos_token_id=eos, min_new_tokens=1)
        output = self.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), **settings)
        sequences = output.sequences if score else output
        text = self.tokenizer.decode(sequences[0, len(ids):], skip_special_tokens=True)
        for stop in sample.stop:
            text = text.split(stop)[0]
        return (text.strip() if sample.strip else text), len(ids), output


_RENDER = {"chat": LanguageModel._chat, "raw": LanguageModel._raw, "official": LanguageModel._official}
