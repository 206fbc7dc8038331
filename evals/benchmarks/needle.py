"""Needle-in-a-Haystack (gkamradt/LLMTest_NeedleInAHaystack): one fact hidden at a given depth of
long real text, for a grid of context lengths x depths; the model is asked to retrieve it.

As in the harness, the haystack is the Paul Graham essays (repeated when needed), cut to the
length in tokens, and the needle goes in at the depth, moved back to the previous sentence end
(depth 100 puts it last). Unlike the harness's fixed 200-token buffer, the whole prompt (template,
chat wrapper, answer prefix) plus the generation budget is fitted to the length exactly.
The harness has no case for open models: `prompt_format=official` (and `raw`) sends the one
plain-text prompt it has, its Anthropic completion prompt (`HARNESS_TEMPLATE`, "Human:" and
"Assistant:" in the text), with the tokenizer's BOS; `chat` puts the same words without those
two markers in one user turn of the model's own template, the answer prefix after it.
Scoring replaces the harness's GPT-4 judge with string matching: the fraction of the answer's
keywords found, whether the whole answer appears, and optionally ROUGE-1 recall.

`split: dev` (evals.benchmarks.common.splits) hides another fact (`dev_needle`: needle, question, answer, keywords;
by default a Lisbon needle) in the essays read from the first paragraph break after their middle,
so no dev prompt shares its needle or its haystack text with a test prompt of up to ~85k tokens
(half the essays); dev ids read "needle-dev-<length>-<depth>".
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common import match_metrics
from evals.benchmarks.common.grid import depth_label, summarize_grid
from evals.benchmarks.common.haystack import DEFAULT_ESSAYS, load_essays
from evals.benchmarks.common.sizing import PromptCounter
from evals.benchmarks.common.splits import content_key, rotate_half, sample_id
from evals.benchmarks.options import PROMPT_FORMAT, SPLIT, Option, lengths, max_length
from evals.benchmarks.registry import register_benchmark

NEEDLE = "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n"
QUESTION = "What is the best thing to do in San Francisco?"
# The harness's prompt (its Anthropic provider), instruction first, as one user turn.
TEMPLATE = (
    "You are a helpful AI bot that answers questions for a user. Keep your response short and direct\n\n"
    "<context>\n{context}\n</context>\n\n{question} Don't give information outside the document or repeat "
    "your findings"
)
ANSWER_PREFIX = "Here is the most relevant sentence in the context:"
# The harness's Anthropic provider prompt (needlehaystack/providers/Anthropic_prompt.txt), up to
# its answer prefix: the text the harness sends to a completion model.
HARNESS_TEMPLATE = (
    "You are a helpful AI bot that answers questions for a user. Keep your response short and direct\n\n"
    "Human: <context>\n{context}\n</context>\n\n{question} Don't give information outside the document or "
    "repeat your findings\n\nAssistant: "
)
TEMPLATES = {"official": HARNESS_TEMPLATE, "raw": HARNESS_TEMPLATE, "chat": TEMPLATE}  # template: null

# The dev split's fact: the same shape as the harness's needle, nothing in common with it.
DEV_NEEDLE = {
    "needle": "\nThe best thing to do in Lisbon is ride the old yellow tram up the hill and eat custard tarts "
              "at the top.\n",
    "question": "What is the best thing to do in Lisbon?",
    "answer": "ride the old yellow tram up the hill and eat custard tarts at the top",
    "keywords": ["yellow tram", "custard tarts"],
}

KEYWORDS = ["sandwich", "Dolores Park"]
ANSWER = "eat a sandwich and sit in Dolores Park on a sunny day"


def _template(value: str | None) -> str | None:
    if value is not None and "{context}" not in value:
        raise ValueError("Invalid benchmark.template: it must contain {context} (and may use {question})")
    return value


def _dev_needle(value: dict | None) -> dict | None:
    unknown = sorted(set(value or {}) - set(DEV_NEEDLE))
    if unknown:
        raise ValueError(f"Unknown needle dev_needle key '{unknown[0]}'. Valid: {', '.join(DEV_NEEDLE)}")
    return value


def depth_grid(intervals: int) -> list[float]:
    """The harness's linear depths: `intervals` evenly spaced percents from 0 to 100, rounded."""
    return [int(d) for d in np.round(np.linspace(0, 100, num=intervals, endpoint=True)).astype(int)]


def sentence_end_ids(tokenizer, ids: list[int]) -> set[int]:
    """The ids among `ids` whose text ends a sentence (the harness looks for the '.' token)."""
    return {i for i in set(ids) if tokenizer.decode([i]).rstrip().endswith((".", "!", "?"))}


@register_benchmark
class Needle(Benchmark):
    name = "needle"
    options = (
        max_length(),
        lengths([1024, 2048, 4096, 8192]),
        Option("depths", [0, 50, 100], "numbers", low=0, high=100, min_items=1, doc="percent of the haystack before the needle"),
        Option("depth_intervals", None, "int", low=1, null=True, doc="N evenly spaced depths instead of `depths`"),
        Option("needle", NEEDLE, "str"),
        Option("question", QUESTION, "str"),
        Option("answer", ANSWER, "str", null=True, doc="answer_match: the whole answer present"),
        Option("keywords", KEYWORDS, "strs", null=True, doc="keyword_recall (the main score)"),
        Option("rouge", False, "bool", doc="also rouge1_recall of the answer"),
        Option("haystack", DEFAULT_ESSAYS, "str", doc="the essays (a .txt file or a folder of them)"),
        Option("template", None, "str", null=True, check=_template, doc="null: the prompt format's own"),
        Option("answer_prefix", ANSWER_PREFIX, "str"),
        Option("max_new_tokens", 32, "int", low=1),
        PROMPT_FORMAT,
        SPLIT,
        Option("dev_needle", None, "mapping", null=True, check=_dev_needle,
               doc="split=dev: the fact hidden instead ({needle, question, answer, keywords}); null: a Lisbon needle"),
    )

    def __init__(self, **config):
        super().__init__(**config)
        c = dict(self.config)
        self.lengths = c["lengths"]
        depths = depth_grid(c["depth_intervals"]) if c["depth_intervals"] else c["depths"]
        self.depths = [float(d) for d in depths]
        if self.split == "dev":
            c.update(self._dev_fact(c))
        if c["template"] is None:  # the chosen format's own prompt
            c["template"] = TEMPLATES[c["prompt_format"]]
        self.keywords = list(c["keywords"] or [])
        if not self.keywords and not c["answer"]:
            raise ValueError("needle: give an answer or keywords to score against")
        self.c = c  # the options with the split's fact and the format's template in place
        self.haystack_text = load_essays(c["haystack"])  # raises, naming the path, when missing
        if self.split == "dev":
            self.haystack_text = rotate_half(self.haystack_text)

    @staticmethod
    def _dev_fact(c: dict) -> dict:
        """needle, question, answer, keywords of the dev split: `dev_needle` over the Lisbon
        needle, checked against the test fact."""
        fact = {**DEV_NEEDLE, **(c["dev_needle"] or {})}
        if fact["needle"].strip() == c["needle"].strip() or fact["answer"] == c["answer"]:
            raise ValueError("needle: split=dev needs a dev_needle (needle and answer) other than the test needle")
        return fact

    def _haystack_ids(self, tokenizer, need: int) -> list[int]:
        """The first `need` haystack tokens (the text repeated if short); tokenizes only a prefix
        when that is enough (English runs ~4 characters per token, 10 is ample)."""
        text = self.haystack_text
        ids = tokenizer(text[: need * 10], add_special_tokens=False)["input_ids"]
        if len(ids) < need and need * 10 < len(text):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return (ids * -(-need // len(ids)))[:need]

    def samples(self, tokenizer) -> Iterator[Sample]:
        c = self.c
        count = PromptCounter(tokenizer, c["prompt_format"])
        haystack = self._haystack_ids(tokenizer, max(self.lengths))
        ends = sentence_end_ids(tokenizer, haystack)
        needle_tokens = count.raw(c["needle"])
        for length in self.lengths:
            budget = length - c["max_new_tokens"]
            overhead = count(self._prompt(""), c["answer_prefix"])
            room = budget - overhead - needle_tokens
            if room <= 0:
                raise ValueError(f"needle: length {length} is too short; the prompt without haystack takes "
                                 f"{overhead + needle_tokens} tokens plus {c['max_new_tokens']} to generate")
            for depth in self.depths:
                yield self._sample(tokenizer, count, haystack, ends, length, depth, budget, room)

    def _prompt(self, context: str) -> str:
        return self.c["template"].format(context=context, question=self.c["question"])

    def insert(self, tokenizer, ids: list[int], ends: set[int], depth: float) -> tuple[str, float]:
        """Context text with the needle at `depth` percent, moved back to a sentence end."""
        needle = self.c["needle"]
        if depth >= 100:
            return tokenizer.decode(ids) + needle, 100.0
        point = int(len(ids) * depth / 100)
        while point > 0 and ids[point - 1] not in ends:
            point -= 1
        before, after = tokenizer.decode(ids[:point]), tokenizer.decode(ids[point:])
        return before + needle + after, 100.0 * point / max(len(ids), 1)

    def _sample(self, tokenizer, count, haystack, ends, length, depth, budget, room) -> Sample:
        c = self.c
        while True:  # decoding and re-encoding can shift a few tokens: trim until it fits
            context, actual = self.insert(tokenizer, haystack[:room], ends, depth)
            tokens = count(self._prompt(context), c["answer_prefix"])
            if tokens <= budget:
                break
            room -= tokens - budget
        references = [c["answer"]] if c["answer"] else list(self.keywords)
        return Sample(
            id=sample_id("needle", self.split, length, depth_label(depth)),
            task="needle",
            prompt=self._prompt(context),
            references=references,
            max_new_tokens=c["max_new_tokens"],
            answer_prefix=c["answer_prefix"],
            prompt_format=c["prompt_format"],
            meta={"length": length, "depth": depth, "token_depth": round(actual, 2), "prompt_tokens": tokens},
        )

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:
        c, scores = self.c, {}
        if self.keywords:
            scores["keyword_recall"] = match_metrics.keyword_recall(prediction, self.keywords)
        if c["answer"]:
            scores["answer_match"] = match_metrics.answer_match(prediction, c["answer"])
            if c["rouge"]:
                scores["rouge1_recall"] = match_metrics.rouge1_recall(prediction, c["answer"])
        return scores

    def content_keys(self, sample: Sample) -> list[str]:
        return [content_key("needle", self.c["needle"].strip())]

    def summarize(self, records: list[dict]) -> dict:
        return summarize_grid(records)
