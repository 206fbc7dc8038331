"""LongBench and LongBench-E (THUDM/LongBench), scored as its eval.py scores them.

Per-task facts (prompt template, max_new_tokens, metric, raw-vs-chat, first-line
post-processing, category, samsum's newline end) live in `longbench_tasks.json`, read from the
official configs. The prompt is the template filled with the sample's `context` and `input`;
LanguageModel truncates its middle to `max_length` tokens and sends it in the run's
`prompt_format`: `official` as pred.py's build_chat does (Llama-2 chat gets `[INST]...[/INST]`,
every other family the bare prompt, and the six few-shot/code tasks stay bare for all), `chat` in
the model's own template (the same six stay bare), `raw` bare. A prediction scores the max of
the task metric over the `answers`.
LongBench-E (`longbench_e: true`) reads the `<task>_e` files and also scores by the sample's
`length` field (0-4k, 4-8k, 8k+).

The data is found when the benchmark is built, before any model loads (evals.benchmarks.longbench.data:
data_dir, else the checkout's shared files, else the hub's data.zip). With the default task list
(`all`) the tasks without data are named in one warning, with how to get them, and the rest
run; a task asked for by name without data is an error.

`split` (evals.benchmarks.common.splits): a record is dev when the SHA-256 of its context is 3 modulo 5, so
records that share a context (multifieldqa_zh asks several questions of one text) stay together
and a file's first record splits as it does in the full file. `min_tokens` / `max_tokens` keep
only records whose filled-in prompt, in the model's tokens before truncation, lies in that range
(LongBench-E style selection by length; the first `samples_per_task` that qualify, file order).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Iterator

from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common.metrics import best_over_references, get_metric
from evals.benchmarks.common.sources import Source, offline
from evals.benchmarks.common.splits import content_key, document_split
from evals.benchmarks.common.token_bounds import in_range, token_range
from evals.benchmarks.longbench import data
from evals.benchmarks.options import PROMPT_FORMAT, SPLIT, Option, count, max_length
from evals.benchmarks.registry import register_benchmark

SPEC = json.loads((Path(__file__).with_name("tasks.json")).read_text(encoding="utf-8"))
TASKS: dict[str, dict] = SPEC["tasks"]
GROUPS: dict[str, list[str]] = SPEC["groups"]
LONGBENCH_E_TASKS: list[str] = SPEC["longbench_e_tasks"]
LENGTH_BUCKETS: list[tuple[str, int, int | None]] = [tuple(b) for b in SPEC["length_buckets"]]
OFFICIAL_CHAT: dict[str, list[str]] = SPEC["official_chat"]  # pred.py build_chat, per family
REQUIRED_FIELDS = ("input", "context", "answers", "length", "all_classes")


def length_bucket(length: float) -> str:
    for name, low, high in LENGTH_BUCKETS:
        if length >= low and (high is None or length < high):
            return name
    raise ValueError(f"length {length} is in no LongBench-E bucket")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def select_tasks(tasks: Any, longbench_e: bool) -> list[str]:
    valid = LONGBENCH_E_TASKS if longbench_e else list(TASKS)
    if tasks in (None, "all", ["all"]):
        return list(valid)
    names = [tasks] if isinstance(tasks, str) else list(tasks)
    if not names:
        raise ValueError(f"LongBench 'tasks' is empty. Valid: all, {', '.join(valid)}")
    for name in names:
        if name not in valid:
            kind = "LongBench-E" if longbench_e else "LongBench"
            raise ValueError(f"Unknown {kind} task '{name}'. Valid: all, {', '.join(valid)}")
    return names


@register_benchmark
class LongBench(Benchmark):
    name = "longbench"
    groups = GROUPS

    options = (
        max_length(7500),  # prompt tokens kept (middle truncation); LongBench uses window - ~500
        Option("tasks", ["qasper", "hotpotqa", "multi_news", "trec", "passage_retrieval_zh", "lcc"], "strs",
               min_items=1, doc='task names, or "all" (21 tasks)'),
        count("samples_per_task", 2, "first N samples of each task; null: all"),
        Option("data_dir", None, "str", null=True, doc="an unzipped data.zip folder; null: the shared files, then the hub"),
        Option("longbench_e", False, "bool", doc="LongBench-E: the <task>_e files, scored per length bucket too"),
        PROMPT_FORMAT,
        SPLIT,
        count("min_tokens", None, "only records whose prompt has at least this many tokens (before truncation)"),
        count("max_tokens", None, "only records whose prompt has at most this many tokens"),
    )

    def __init__(self, **config: Any):
        super().__init__(**config)
        c = self.config
        self.prompt_format = c["prompt_format"]
        self.token_range = token_range("LongBench", c["min_tokens"], c["max_tokens"])
        self.longbench_e = c["longbench_e"]
        self.default_list = c["tasks"] == ["all"]
        self.tasks = select_tasks(c["tasks"], self.longbench_e)
        self.samples_per_task = c["samples_per_task"]
        self.data_dir = c["data_dir"]
        self.sources: dict[str, Source] = {}
        self._warned_partial = False
        self.check_data()

    def file_name(self, task: str) -> str:
        return f"{task}_e" if self.longbench_e else task

    def check_data(self) -> dict[str, str]:
        """Find every task's file now (no model needed): task -> where. Tasks of the default list
        without data are dropped and named in one warning; named tasks without data, or no data
        at all, raise FileNotFoundError. The hub is only asked when no data_dir is set, the
        checkout lacks the file and offline mode is off."""
        if self.data_dir is not None:
            data.check_data_dir(self.data_dir)
        missing = []
        for task in self.tasks:
            if task not in self.sources:
                source = data.local_source(self.file_name(task), self.data_dir)
                if source is not None:
                    self.sources[task] = source
                else:
                    missing.append(task)
        hub_note = ""
        if missing and self.data_dir is None:
            missing, hub_note = self._from_hub(missing)
        if missing:
            self._report_missing(missing, hub_note)
        partial = [t for t in self.tasks if self.sources[t].kind == "first_record"]
        if partial and not self._warned_partial:
            self._warned_partial = True
            warnings.warn(f"LongBench: {', '.join(partial)} read only the first record in {data.checkout_dir()} "
                          f"(an end-to-end check, not a score). {data.how_to_get(partial)}", stacklevel=2)
        return {task: str(self.sources[task].path) + (f"!{self.sources[task].member}" if self.sources[task].member
                                                       else "") for task in self.tasks}

    def _from_hub(self, missing: list[str]) -> tuple[list[str], str]:
        """Sources from the hub's data.zip for `missing` (never offline): what is still missing, and why."""
        if offline():
            return missing, "the hub is not asked: offline mode is set"
        try:
            found = data.hub_sources([self.file_name(t) for t in missing])
        except Exception as err:  # no network, no access: the message says why
            return missing, f"the hub's data.zip could not be fetched ({type(err).__name__}: {err})"
        for task in missing:
            if self.file_name(task) in found:
                self.sources[task] = found[self.file_name(task)]
        still = [t for t in missing if t not in self.sources]
        return still, "the hub's data.zip lacks them" if still else ""

    def _report_missing(self, missing: list[str], hub_note: str) -> None:
        names = [self.file_name(t) + ".jsonl" for t in missing]
        where = (f"data_dir {data.check_data_dir(self.data_dir)}" if self.data_dir is not None
                 else f"{data.checkout_dir()} (nor its {data.FIRST_RECORDS}/)")
        what = f"no data for {', '.join(missing)}: {', '.join(names)} not in {where}"
        if hub_note:
            what += f"; {hub_note}"
        if not self.default_list:
            raise FileNotFoundError(f"LongBench: {what}. {data.how_to_get(missing)}")
        self.tasks = [t for t in self.tasks if t not in missing]
        if not self.tasks:
            raise FileNotFoundError(f"LongBench: {what}; no task has data. {data.how_to_get(missing)}")
        warnings.warn(f"LongBench: {what}; running the other {len(self.tasks)} task(s). {data.how_to_get(missing)}",
                      stacklevel=3)

    def build_sample(self, task: str, row: dict, index: int) -> Sample:
        spec = TASKS[task]
        where = row.get("_where", f"{task}[{index}]")
        missing = [key for key in REQUIRED_FIELDS if key not in row]
        if missing:
            raise ValueError(f"{where}: LongBench sample lacks field(s) {', '.join(missing)}")
        if not isinstance(row["answers"], list) or not row["answers"]:
            raise ValueError(f"{where}: 'answers' must be a non-empty list")
        if spec["metric"] == "classification" and not row["all_classes"]:
            raise ValueError(f"{where}: task '{task}' needs 'all_classes'")
        prompt = spec["prompt"].format(context=row["context"], input=row["input"])
        suffix = "_e" if self.longbench_e else ""
        return Sample(
            id=f"{task}{suffix}:{row.get('_id') or index}",
            task=task,
            prompt=prompt,
            references=[str(answer) for answer in row["answers"]],
            max_new_tokens=spec["max_new_tokens"],
            chat=spec["chat"],
            stop=list(spec["stop"]),
            eos_texts=list(spec["eos_texts"]),
            strip=False,  # eval.py scores the decoded text as it is
            prompt_format=self.prompt_format,
            official=OFFICIAL_CHAT if spec["chat"] else {},
            meta={"length": row["length"], "language": row.get("language"), "all_classes": row["all_classes"],
                  "_id": row.get("_id"), "longbench_e": self.longbench_e,
                  "data": self.sources[task].kind if task in self.sources else None,
                  "content": content_key("longbench", str(row["context"]))},
        )

    def samples(self, tokenizer=None) -> Iterator[Sample]:
        """Each task's records of this split (and token range), in file order; the index in the
        file names a record without an `_id`."""
        for task in self.tasks:
            taken = 0
            for index, row in enumerate(self.sources[task].rows()):
                if self.samples_per_task is not None and taken >= self.samples_per_task:
                    break
                if document_split(str(row.get("context", ""))) != self.split:
                    continue
                sample = self.build_sample(task, row, index)
                if self.token_range != (None, None):
                    if tokenizer is None:
                        raise ValueError("LongBench min_tokens / max_tokens count the model's tokens: samples() needs "
                                         "its tokenizer")
                    tokens = len(tokenizer(sample.prompt, add_special_tokens=False)["input_ids"])
                    if not in_range(tokens, self.token_range):
                        continue
                    sample.meta["prompt_tokens"] = tokens  # before truncation to max_length
                taken += 1
                yield sample

    def content_keys(self, sample: Sample) -> list[str]:
        return [sample.meta["content"]]

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:
        spec = TASKS[sample.task]
        if spec["first_line"]:
            prediction = prediction.lstrip("\n").split("\n")[0]
        metric = get_metric(spec["metric"])
        value = best_over_references(metric, prediction, sample.references, all_classes=sample.meta.get("all_classes"))
        return {spec["metric"]: value}

    def summarize(self, records: list[dict]) -> dict:
        """Task scores (x100), the paper's categories, per-language leaderboard averages, where each
        task's data came from, and for LongBench-E the scores per length bucket."""
        per_task: dict[str, list[float]] = {}
        buckets: dict[str, dict[str, list[float]]] = {}
        for record in records:
            task = record["task"]
            value = float(record["scores"][TASKS[task]["metric"]])
            per_task.setdefault(task, []).append(value)
            if self.longbench_e:
                bucket = length_bucket(float(record["meta"]["length"]))
                buckets.setdefault(task, {name: [] for name, _, _ in LENGTH_BUCKETS})[bucket].append(value)
        task_scores = {task: 100.0 * _mean(values) for task, values in per_task.items()}
        ordered = [task for task in TASKS if task in task_scores]
        metrics: dict[str, Any] = {
            "tasks": {task: {TASKS[task]["metric"]: task_scores[task]} for task in ordered},
            "counts": {task: len(per_task[task]) for task in ordered},
            "groups": self._groups(task_scores, ordered),
            "by_language": {},
            "average": _mean([task_scores[t] for t in ordered]),
            "num_samples": len(records),
            # where each task's samples came from; "first_record" scores are end-to-end checks only
            "data_sources": {task: sorted({str(r["meta"].get("data")) for r in records if r["task"] == task})
                             for task in ordered},
        }
        for language in ("en", "zh"):
            tasks = [t for t in ordered if TASKS[t]["language"] in (language, "code")]
            if any(TASKS[t]["language"] == language for t in tasks):
                groups = self._groups(task_scores, tasks)
                metrics["by_language"][language] = {"average": _mean(list(groups.values())), "groups": groups}
        if self.longbench_e:
            bucket_scores = {
                task: {name: (100.0 * _mean(v) if v else None) for name, v in buckets[task].items()}
                for task in ordered
            }
            metrics["length_buckets"] = bucket_scores
            metrics["length_bucket_average"] = {
                name: _mean([s[name] for s in bucket_scores.values() if s[name] is not None])
                for name, _, _ in LENGTH_BUCKETS
            }
        return metrics

    @staticmethod
    def _groups(task_scores: dict[str, float], tasks: list[str]) -> dict[str, float]:
        """Mean task score of each category that has a task among `tasks` (LongBench's table)."""
        groups = {}
        for group, members in GROUPS.items():
            present = [task_scores[t] for t in members if t in tasks]
            if present:
                groups[group] = sum(present) / len(present)
        return groups
