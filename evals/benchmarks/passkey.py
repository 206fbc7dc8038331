"""Passkey retrieval (Mohtashami & Jaggi, 2023, as used by PI, YaRN, LongLoRA...): a pass key
hidden at a depth of repeated filler ("The grass is green. ..."), asked for at the end.

The prompt is the classic one, with the filler sized in whole sentences so that the prompt (chat
wrapper and answer prefix included) plus the generation budget fits the length. Score: the first
number the model writes must be exactly the key.

`prompt_format=official` sends the text as the original test (epfml/landmark-attention,
llama/run_test.py) did: bare, through a transformers text-generation pipeline of its time, which
tokenized without special tokens, so no BOS. `raw` is the same text with the tokenizer's BOS,
`chat` the text in one user turn of the model's chat template, "The pass key is" after it.

`split` (evals.benchmarks.common.splits): a test sample keeps the seed it always had, its dev twin ("passkey-dev-...")
mixes "dev" into it; each split draws its keys from its own half of the key range (by hash) and
puts them after its own filler counts (even for test, odd for dev, one unit from the depth's), so
no dev prompt shares a key or a key position with a test prompt.
"""
from __future__ import annotations

import random
from typing import Iterator

from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common import match_metrics
from evals.benchmarks.common.grid import summarize_grid
from evals.benchmarks.common.haystack import NOISE
from evals.benchmarks.common.sizing import PromptCounter, derive_seed, fit_size
from evals.benchmarks.common.splits import DEFAULT_SPLIT, draw, own_position, sample_id, split_parts
from evals.benchmarks.options import PROMPT_FORMAT, SPLIT, Option, lengths, max_length
from evals.benchmarks.registry import register_benchmark

TASK = ("There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
        "I will quiz you about the important information there.")
INFORMATION = "The pass key is {passkey}. Remember it. {passkey} is the pass key."
QUESTION = "What is the pass key?"
ANSWER_PREFIX = " The pass key is"  # with QUESTION, the original's final line "... The pass key is"


def _key_range(value: list[int]) -> list[int]:
    if len(value) != 2 or value[0] > value[1]:
        raise ValueError(f"Invalid benchmark.passkey_range={value!r}: expected [low, high] with 0 <= low <= high")
    return value


def units_before(fillers: int, depth: float, split: str = DEFAULT_SPLIT) -> int:
    """Filler units before the key: round(fillers * depth / 100), moved one unit to the split's parity."""
    return own_position(round(fillers * depth / 100), fillers, split)


def passkey_prompt(passkey: str, fillers: int, depth: float, split: str = DEFAULT_SPLIT) -> str:
    """The prompt with `fillers` filler units, `units_before` of them before the key."""
    before = units_before(fillers, depth, split)
    lines = [TASK, " ".join([NOISE] * before), INFORMATION.format(passkey=passkey),
             " ".join([NOISE] * (fillers - before)), QUESTION]
    return "\n".join(lines)


@register_benchmark
class Passkey(Benchmark):
    name = "passkey"
    options = (
        max_length(),
        lengths([2048, 4096, 8192, 12288]),
        Option("depths", [10, 50, 90], "numbers", low=0, high=100, min_items=1, doc="percent of the filler before the key"),
        Option("num_samples", 1, "int", low=1, doc="keys per (length, depth)"),
        Option("seed", 42, "int"),
        Option("passkey_range", [1, 50000], "ints", low=0, check=_key_range, doc="[low, high] the keys are drawn from"),
        Option("max_new_tokens", 10, "int", low=1),
        PROMPT_FORMAT,
        Option("answer_logprob", False, "bool",
               doc="also score log p(key | prompt), teacher-forced: a graded signal where accuracy is all 0 or 1"),
        SPLIT,
    )

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        self.lengths = c["lengths"]
        self.depths = [float(d) for d in c["depths"]]
        self.range = tuple(c["passkey_range"])
        # the original pipeline added no BOS (transformers <= 4.3x text-generation pipelines)
        self.fields = {"prompt_format": c["prompt_format"], "special_tokens": c["prompt_format"] != "official"}

    def samples(self, tokenizer) -> Iterator[Sample]:
        c = self.config
        count = PromptCounter(tokenizer, **self.fields)
        longest = str(self.range[1])
        for length in self.lengths:
            budget = length - c["max_new_tokens"]
            # size the filler once per length with the longest key at the extreme depths: every sample fits
            fillers = fit_size(lambda n: max(count(passkey_prompt(longest, n, d), ANSWER_PREFIX) for d in (0, 50, 100)),
                               budget, 16)
            if fillers is None:
                raise ValueError(f"Invalid benchmark.lengths: passkey length {length} is too short for the prompt "
                                 f"plus {c['max_new_tokens']} tokens to generate")
            for depth in self.depths:
                for index in range(int(c["num_samples"])):
                    rng = random.Random(derive_seed(c["seed"], "passkey", *split_parts(self.split, length, depth, index)))
                    passkey = draw(rng, lambda r: str(r.randint(*self.range)), self.split)
                    prompt = passkey_prompt(passkey, fillers, depth, self.split)
                    yield Sample(
                        id=sample_id("passkey", self.split, length, f"{depth:g}", index),
                        task="passkey",
                        prompt=prompt,
                        references=[passkey],
                        max_new_tokens=c["max_new_tokens"],
                        answer_prefix=ANSWER_PREFIX,
                        **self.fields,
                        meta={"length": length, "depth": depth, "fillers": fillers,
                              "units_before": units_before(fillers, depth, self.split),
                              "prompt_tokens": count(prompt, ANSWER_PREFIX)},
                    )

    def evaluate(self, sample: Sample, lm) -> dict:
        """With answer_logprob, the record's meta also holds log p(" <key>" | prompt) and its token count."""
        if not self.config["answer_logprob"]:
            return super().evaluate(sample, lm)
        prediction, prompt_tokens, logprob, count = lm.generate_with_logprob(sample, " " + sample.references[0])
        record = self.record(sample, prediction, prompt_tokens, lm)
        record["meta"] = {**record["meta"], "answer_logprob": logprob, "answer_tokens": count}
        return record

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:
        return {"accuracy": match_metrics.passkey_match(prediction, sample.references[0])}

    def content_keys(self, sample: Sample) -> list[str]:
        return [f"passkey:{sample.references[0]}"]

    def summarize(self, records: list[dict]) -> dict:
        return summarize_grid(records, "accuracy")
