"""BABILong: bAbI's reasoning tasks hidden in PG-19 text at 0k-10M tokens, prompted and scored as
booydar/babilong's scripts do (scripts/run_model_on_babilong.py, babilong/prompts.py, babilong/metrics.py).

The prompt is the released template (spec.json) filled with the task's instruction, in-context
examples and post-prompt (each switched by `instruction`, `examples`, `post_prompt`, as the
script's --use_instruction, --use_examples, --use_post_prompt), the sample's input (stripped) and
question; the whole text is stripped. What reaches the model: with --use_chat_template, which
the released scripts set for every instruct model, the model's chat template around one user
message and nothing else; without it (base models) the text with the tokenizer's special tokens.
So `official` is the model's own template for every family that has one and the bare text with
its BOS for a base model; `chat` is the same; `raw` is the bare text for every model. Greedy, 20
new tokens, the decoded reply stripped, then checked by evals.benchmarks.babilong.metrics.

Lengths are the release's names (`context_lengths`: 0k, 1k, ..., 128k, ... 10M); each sample's
`meta.length` is that length in tokens (the generator's GPT-2 tokens: 4k = 4000), which keys the
summary, so the tables show BABILong's lengths as numbers.

`split` (evals.benchmarks.common.splits): a sample is dev when its input (the facts in their
background text) is a dev document (one in five, by its hash); ids keep the sample's place in the
release (`<task>:<length>:<index>`), and `samples_per_task` takes the first N of the split.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Iterator

from evals.benchmarks.babilong import data
from evals.benchmarks.babilong.metrics import compare_answers
from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common.splits import content_key, document_split
from evals.benchmarks.options import PROMPT_FORMAT, SPLIT, Option, count, max_length
from evals.benchmarks.registry import register_benchmark

SPEC = json.loads(Path(__file__).with_name("spec.json").read_text(encoding="utf-8"))
TASKS: dict[str, dict] = SPEC["tasks"]
LENGTHS: dict[str, int] = SPEC["lengths"]
LEADERBOARD_TASKS = ["qa1", "qa2", "qa3", "qa4", "qa5"]  # the leaderboard's average (collect_results.py)
PARTS = ("instruction", "examples", "post_prompt")
# how each prompt format is rendered by LanguageModel: the script applies the chat template
RENDER = {"official": "chat", "chat": "chat", "raw": "raw"}


def format_input(task: str, context: str, question: str, parts: tuple[str, ...] = PARTS) -> str:
    """The released template filled for one sample (prompts.py get_formatted_input), with the
    task's instruction, examples and post-prompt where `parts` names them, else empty."""
    pieces = {part: TASKS[task][part] if part in parts else "" for part in PARTS}
    return SPEC["template"].format(**pieces, context=context.strip(), question=question).strip()


@register_benchmark
class Babilong(Benchmark):
    name = "babilong"
    options = (
        max_length(),  # no cut: each length's samples are built to that length
        Option("tasks", LEADERBOARD_TASKS, "strs", choices=("all", *TASKS), min_items=1,
               doc='qa1-qa20, or "all" (the release has all 20 at 0k)'),
        Option("context_lengths", ["0k", "4k"], "strs", choices=tuple(LENGTHS), min_items=1,
               doc="the release's lengths: 0k 1k 2k 4k 8k 16k 32k 64k 128k 256k 512k 1M 10M"),
        count("samples_per_task", 2, "first N samples per task and length; null: all (100, or 1000)"),
        Option("dataset", data.DATASETS[0], "str", doc="or RMT-team/babilong-1k-samples (1000 per task, up to 128k)"),
        Option("data_dir", None, "str", null=True, doc="a local copy of the dataset; null: `dataset` from the hub"),
        Option("instruction", True, "bool", doc="the task's instruction (--use_instruction)"),
        Option("examples", True, "bool", doc="its in-context examples (--use_examples)"),
        Option("post_prompt", True, "bool", doc="its answer-format reminder (--use_post_prompt)"),
        Option("max_new_tokens", SPEC["max_new_tokens"], "int", low=1, doc="run_model_on_babilong.py's budget"),
        PROMPT_FORMAT,
        SPLIT,
    )

    def __init__(self, **config: Any):
        super().__init__(**config)
        c = self.config
        self.tasks = list(TASKS) if c["tasks"] == ["all"] else c["tasks"]
        self.lengths = c["context_lengths"]
        self.samples_per_task = c["samples_per_task"]
        self.max_new_tokens = c["max_new_tokens"]
        self.parts = tuple(part for part in PARTS if c[part])
        self.prompt_format = c["prompt_format"]
        self.rows: dict[tuple[str, str], list[tuple[int, dict]]] = {}  # (place in the release, row) of the split
        self.sources: dict[str, str] = {}
        for length in self.lengths:  # every file read now, before any model loads
            for task in self.tasks:
                where, rows = data.load(task, length, c["data_dir"], c["dataset"])
                own = [(index, row) for index, row in enumerate(rows) if document_split(row["input"]) == self.split]
                self.rows[task, length] = own[: self.samples_per_task]
                self.sources[f"{task}:{length}"] = where

    def build_sample(self, task: str, length: str, row: dict, index: int) -> Sample:
        return Sample(id=f"{task}:{length}:{index}", task=task,
                      prompt=format_input(task, row["input"], row["question"], self.parts),
                      references=[row["target"]], max_new_tokens=self.max_new_tokens,
                      prompt_format=self.prompt_format,
                      meta={"length": LENGTHS[length], "length_name": length, "question": row["question"],
                            "document": content_key("document", row["input"])})

    def samples(self, tokenizer=None) -> Iterator[Sample]:
        """Length by length, sample index by index, every task: a small limit still spans tasks."""
        for length in self.lengths:
            longest = max(len(self.rows[task, length]) for task in self.tasks)
            for index in range(longest):
                for task in self.tasks:
                    rows = self.rows[task, length]
                    if index < len(rows):
                        place, row = rows[index]  # its place in the release: the id keeps it
                        yield self.build_sample(task, length, row, place)

    def content_keys(self, sample: Sample) -> list[str]:
        return [sample.meta["document"]]

    def evaluate(self, sample: Sample, lm) -> dict:
        asked = dataclasses.replace(sample, prompt_format=RENDER[sample.prompt_format])
        prediction, prompt_tokens = lm.generate(asked)
        return self.record(sample, prediction, prompt_tokens, lm)

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:
        right = compare_answers(sample.references[0], prediction, sample.meta["question"],
                                TASKS[sample.task]["labels"])
        return {"accuracy": float(right)}

    def summarize(self, records: list[dict]) -> dict:
        """Accuracy x100 per task per length (keyed by tokens, e.g. "4000"), the task average per
        length, the leaderboard's qa1-qa5 average per length (only where all five ran) and overall."""
        cells: dict[str, dict[int, list[float]]] = {}
        for r in records:
            cells.setdefault(r["task"], {}).setdefault(int(r["meta"]["length"]), []).append(r["scores"]["accuracy"])
        order = sorted(cells, key=list(TASKS).index)
        tasks = {t: {str(n): 100.0 * sum(v) / len(v) for n, v in sorted(cells[t].items())} for t in order}
        lengths = sorted({n for by_length in cells.values() for n in by_length})
        per_length = {}
        leaderboard = {}
        for n in lengths:
            scores = {t: tasks[t][str(n)] for t in order if str(n) in tasks[t]}
            per_length[str(n)] = sum(scores.values()) / len(scores)
            if all(t in scores for t in LEADERBOARD_TASKS):
                leaderboard[str(n)] = sum(scores[t] for t in LEADERBOARD_TASKS) / len(LEADERBOARD_TASKS)
        metrics = {"tasks": tasks, "average_per_length": per_length,
                   "average": sum(per_length.values()) / len(per_length) if per_length else None,
                   "length_names": {str(v): k for k, v in LENGTHS.items() if str(v) in per_length},
                   "num_samples": len(records)}
        if leaderboard:
            metrics["qa1_qa5_average_per_length"] = leaderboard
        return metrics
