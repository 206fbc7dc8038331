"""LongBench v2: 503 multiple-choice questions over long documents, run as THUDM/LongBench's pred.py
runs them and scored as its result.py scores them.

Modes (`mode`, pred.py's flags): `direct` (prompts/0shot.txt, 128 new tokens), `cot`
(--cot: prompts/0shot_cot.txt with 1024 new tokens for the reasoning, then prompts/0shot_cot_ans.txt
holding that reasoning, 128 new tokens for the answer; two calls per question) and `no_context`
(--no_context: prompts/0shot_no_context.txt, the question alone, 128 new tokens).

What reaches the model: pred.py sends each prompt to a vLLM server's chat endpoint as one user
message, after cutting it to `max_length` tokens (evals.benchmarks.longbench_v2.prompts). The server
applies the model's own chat template and adds no other special token, so `official` is the
model's chat template for every family that has one, and the bare prompt with the tokenizer's
BOS for a base model (the script has no case for it: a server refuses a model without a
template). `chat` is the same here; `raw` is the bare prompt for every model. The cut is the
script's in all three formats (the run's `max_length`; pred.py's is 120000).

A question scores 1 when the extracted letter (evals.benchmarks.longbench_v2.scoring) is the answer; the
summary is result.py's table (overall, easy/hard, short/medium/long) plus the accuracy per domain.

`split` (evals.benchmarks.common.splits): a question is dev when its document is (one in five, by
the hash of its context), so the two splits never share a document; `num_samples` takes the first
N of the split.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Iterator

from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common.splits import content_key, document_split
from evals.benchmarks.longbench_v2 import data
from evals.benchmarks.longbench_v2.prompts import SPEC, TEMPLATES, cut_middle, fill, with_reasoning
from evals.benchmarks.longbench_v2.scoring import breakdown, extract_answer, question_score
from evals.benchmarks.options import PROMPT_FORMAT, SPLIT, Option, count, max_length
from evals.benchmarks.registry import register_benchmark

MODES: dict[str, dict] = SPEC["modes"]
# how each prompt format is rendered by LanguageModel: pred.py's server applies the chat template
RENDER = {"official": "chat", "chat": "chat", "raw": "raw"}


def uncut(lm):
    """`lm` without its own middle cut: the prompt was already cut the way pred.py cuts it."""
    if getattr(lm, "max_length", None) is None:
        return lm
    view = copy.copy(lm)
    view.max_length = None
    return view


def result_items(records: list[dict]) -> list[dict]:
    """Our records as the items result.py reads (judge, pred, difficulty, length)."""
    return [{"judge": r["scores"]["accuracy"] == 1.0, "pred": r.get("extracted"), "difficulty": r["meta"]["difficulty"],
             "length": r["meta"]["length_class"]} for r in records]


@register_benchmark
class LongBenchV2(Benchmark):
    name = "longbench_v2"
    options = (
        max_length(7500),  # pred.py's middle cut, the BOS counted (its own: 120000)
        Option("mode", "direct", "str", choices=tuple(sorted(MODES)),
               doc="direct (0shot.txt) | cot (0shot_cot.txt, then 0shot_cot_ans.txt) | no_context"),
        count("num_samples", 2, "first N questions of data.json; null: all 503"),
        Option("data_dir", None, "str", null=True, doc="the folder holding data.json (or its path); null: the hub"),
        Option("compensated", False, "bool", doc="result.py's flag: a reply without an answer counts 0.25"),
        PROMPT_FORMAT,
        SPLIT,
    )

    def __init__(self, **config: Any):
        super().__init__(**config)
        c = self.config
        self.mode = c["mode"]
        self.num_samples = c["num_samples"]
        self.compensated = c["compensated"]
        self.prompt_format = c["prompt_format"]
        self.source, path = data.locate(c["data_dir"])  # before any model loads
        own = [r for r in data.read(path) if document_split(r["context"]) == self.split]
        self.records = own[: self.num_samples]

    @property
    def score_name(self) -> str:
        return "compensated_accuracy" if self.compensated else "accuracy"

    def build_sample(self, record: dict) -> Sample:
        mode = MODES[self.mode]
        meta = {"_id": record["_id"], "domain": record["domain"], "sub_domain": record["sub_domain"],
                "difficulty": record["difficulty"], "length_class": record["length"], "mode": self.mode,
                "data": self.source, "document": content_key("document", record["context"])}
        if "answer_template" in mode:  # CoT: the answer prompt, all but the reasoning filled in now
            meta["answer_prompt"] = fill(TEMPLATES[mode["answer_template"]], record)
        return Sample(id=f"longbench_v2:{record['_id']}", task=record["domain"],
                      prompt=fill(TEMPLATES[mode["template"]], record), references=[record["answer"]],
                      max_new_tokens=mode["max_new_tokens"], strip=False, prompt_format=self.prompt_format,
                      meta=meta)

    def samples(self, tokenizer=None) -> Iterator[Sample]:
        for record in self.records:
            yield self.build_sample(record)

    def content_keys(self, sample: Sample) -> list[str]:
        return [sample.meta["document"]]

    def query(self, lm, sample: Sample, prompt: str, max_new_tokens: int) -> tuple[Any, Sample]:
        """(model, sample) of one call of pred.py's query_llm: the prompt cut as it cuts it, to be
        rendered as its server renders it, by `lm` without a cut of its own."""
        cut = cut_middle(prompt, lm.tokenizer, getattr(lm, "max_length", None))
        asked = dataclasses.replace(sample, prompt=cut, max_new_tokens=max_new_tokens,
                                    prompt_format=RENDER[sample.prompt_format])
        return uncut(lm), asked

    def ask(self, lm, sample: Sample, prompt: str, max_new_tokens: int) -> tuple[str, int]:
        """The reply to one query (as decoded, not stripped) and its prompt's length in tokens."""
        model, asked = self.query(lm, sample, prompt, max_new_tokens)
        return model.generate(asked)

    def evaluate(self, sample: Sample, lm) -> dict:
        """pred.py's get_pred for one question: one call, or two under CoT. pred.py drops a
        question whose reply is empty (it is asked again on the next run); here it stays, with no
        answer, marked `empty`."""
        mode = MODES[self.mode]
        reply, prompt_tokens = self.ask(lm, sample, sample.prompt, sample.max_new_tokens)
        extra: dict[str, Any] = {}
        if "answer_template" in mode:
            extra["reasoning"] = reasoning = reply.strip()
            if reply != "":
                prompt = with_reasoning(sample.meta["answer_prompt"], reasoning)
                reply, extra["answer_prompt_tokens"] = self.ask(lm, sample, prompt, mode["answer_max_new_tokens"])
        response = reply.strip()
        record = self.record(sample, response, prompt_tokens, lm)
        record.update(extracted=extract_answer(response), empty=reply == "", **extra)
        return record

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:
        pred, answer = extract_answer(prediction), sample.references[0]
        scores = {"accuracy": question_score(pred, answer)}
        if self.compensated:
            scores = {"compensated_accuracy": question_score(pred, answer, compensated=True), **scores}
        return scores

    def summarize(self, records: list[dict]) -> dict:
        """result.py's table (`breakdown`: overall, easy, hard, short, medium, long; `average` is the
        overall accuracy), the accuracy per domain (`tasks`) and the questions behind each (`counts`)."""
        items = result_items(records)
        values, counts = breakdown(items, self.compensated)
        domains: dict[str, list[float]] = {}
        for r in records:
            domains.setdefault(r["task"], []).append(float(r["scores"][self.score_name]))
        return {
            "tasks": {d: {self.score_name: 100.0 * sum(v) / len(v)} for d, v in domains.items()},
            "average": values["Overall"],
            "breakdown": {column.lower(): value for column, value in values.items()},
            "counts": {**{column.lower(): n for column, n in counts.items()},
                       "no_answer": sum(1 for item in items if item["pred"] is None),
                       "empty": sum(1 for r in records if r.get("empty"))},
            "mode": self.mode,
            "num_samples": len(records),
        }
