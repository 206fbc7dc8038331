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
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Iterator

from evals.benchmarks.babilong import data
from evals.benchmarks.babilong.metrics import compare_answers
from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common.prompt_format import DEFAULT_FORMAT, check_prompt_format
from evals.benchmarks.registry import register_benchmark
from evals.benchmarks.ruler.options import check_config
from evals.run.config import need_bool, need_int

SPEC = json.loads(Path(__file__).with_name("spec.json").read_text(encoding="utf-8"))
TASKS: dict[str, dict] = SPEC["tasks"]
LENGTHS: dict[str, int] = SPEC["lengths"]
LEADERBOARD_TASKS = ["qa1", "qa2", "qa3", "qa4", "qa5"]  # the leaderboard's average (collect_results.py)
PARTS = ("instruction", "examples", "post_prompt")
DEFAULTS = dict(tasks=LEADERBOARD_TASKS, context_lengths=["0k", "1k", "2k", "4k", "8k", "16k", "32k", "64k", "128k"],
                samples_per_task=None, dataset=data.DATASETS[0], data_dir=None, instruction=True, examples=True,
                post_prompt=True, max_new_tokens=SPEC["max_new_tokens"], prompt_format=DEFAULT_FORMAT)
# how each prompt format is rendered by LanguageModel: the script applies the chat template
RENDER = {"official": "chat", "chat": "chat", "raw": "raw"}


def choose(option: str, value: Any, valid: list[str], everything: str | None = None) -> list[str]:
    """A list of names from `valid` ("all" for every one when `everything` is given)."""
    if everything is not None and value == everything:
        return list(valid)
    names = [value] if isinstance(value, str) else list(value or [])
    bad = [n for n in names if n not in valid]
    if bad or not names:
        choices = ", ".join(([everything] if everything else []) + valid)
        raise ValueError(f"Invalid benchmark.{option}={value!r}"
                         + (f": {bad[0]!r} is not one" if bad else ": give at least one") + f". Valid choices: {choices}")
    return names


def format_input(task: str, context: str, question: str, parts: tuple[str, ...] = PARTS) -> str:
    """The released template filled for one sample (prompts.py get_formatted_input), with the
    task's instruction, examples and post-prompt where `parts` names them, else empty."""
    pieces = {part: TASKS[task][part] if part in parts else "" for part in PARTS}
    return SPEC["template"].format(**pieces, context=context.strip(), question=question).strip()


@register_benchmark
class Babilong(Benchmark):
    """Config: tasks (qa1-qa20 or all), context_lengths (0k-10M), samples_per_task (first N per task
    and length; null = all), dataset (hub name), data_dir, instruction / examples / post_prompt
    (bool), max_new_tokens, prompt_format (official | chat | raw)."""

    name = "babilong"

    def __init__(self, **config: Any):
        super().__init__(**config)
        c = check_config("babilong", config, DEFAULTS)
        self.tasks = choose("tasks", c["tasks"], list(TASKS), everything="all")
        self.lengths = choose("context_lengths", c["context_lengths"], list(LENGTHS))
        self.samples_per_task = need_int("benchmark.samples_per_task", c["samples_per_task"], low=1, allow_none=True)
        self.max_new_tokens = need_int("benchmark.max_new_tokens", c["max_new_tokens"], low=1)
        self.parts = tuple(part for part in PARTS if need_bool(f"benchmark.{part}", c[part]))
        self.prompt_format = check_prompt_format("babilong", c["prompt_format"])
        if not isinstance(c["dataset"], str) or not c["dataset"].strip():
            raise ValueError(f"Invalid benchmark.dataset={c['dataset']!r}: a hub dataset name, e.g. "
                             f"{', '.join(data.DATASETS)}")
        self.rows: dict[tuple[str, str], list[dict]] = {}
        self.sources: dict[str, str] = {}
        for length in self.lengths:  # every file read now, before any model loads
            for task in self.tasks:
                where, rows = data.load(task, length, c["data_dir"], c["dataset"])
                self.rows[task, length] = rows[: self.samples_per_task]
                self.sources[f"{task}:{length}"] = where

    def build_sample(self, task: str, length: str, row: dict, index: int) -> Sample:
        return Sample(id=f"{task}:{length}:{index}", task=task,
                      prompt=format_input(task, row["input"], row["question"], self.parts),
                      references=[row["target"]], max_new_tokens=self.max_new_tokens,
                      prompt_format=self.prompt_format,
                      meta={"length": LENGTHS[length], "split": length, "question": row["question"]})

    def samples(self, tokenizer=None) -> Iterator[Sample]:
        """Length by length, sample index by index, every task: a small limit still spans tasks."""
        for length in self.lengths:
            longest = max(len(self.rows[task, length]) for task in self.tasks)
            for index in range(longest):
                for task in self.tasks:
                    rows = self.rows[task, length]
                    if index < len(rows):
                        yield self.build_sample(task, length, rows[index], index)

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
