"""LongBench and LongBench-E (THUDM/LongBench), scored as its eval.py scores them.

Per-task facts (prompt template, max_new_tokens, metric, raw-vs-chat, first-line
post-processing, category) live in `longbench_tasks.json`, read from the official configs.
The prompt is the template filled with the sample's `context` and `input`; LanguageModel
truncates its middle to `max_length` tokens and wraps it in the chat template unless the task is
one LongBench leaves raw. A prediction scores the max of the task metric over the `answers`.
LongBench-E (`longbench_e: true`) reads the `<task>_e` files and also scores by the sample's
`length` field (0-4k, 4-8k, 8k+).
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Iterator

from evals.base import Benchmark, Sample
from evals.jsonl import parse_jsonl, read_jsonl
from evals.metrics import best_over_references, get_metric
from evals.paths import resolve_data_path
from evals.registry import register_benchmark

SPEC = json.loads((Path(__file__).with_name("longbench_tasks.json")).read_text(encoding="utf-8"))
TASKS: dict[str, dict] = SPEC["tasks"]
GROUPS: dict[str, list[str]] = SPEC["groups"]
LONGBENCH_E_TASKS: list[str] = SPEC["longbench_e_tasks"]
LENGTH_BUCKETS: list[tuple[str, int, int | None]] = [tuple(b) for b in SPEC["length_buckets"]]
REQUIRED_FIELDS = ("input", "context", "answers", "length", "all_classes")
HF_DATASET = "THUDM/LongBench"
DATA_URL = "https://huggingface.co/datasets/THUDM/LongBench/resolve/main/data.zip"
OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def length_bucket(length: float) -> str:
    for name, low, high in LENGTH_BUCKETS:
        if length >= low and (high is None or length < high):
            return name
    raise ValueError(f"length {length} is in no LongBench-E bucket")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _from_hub_zip(name: str) -> list[dict]:
    """The released data.zip from the hub (cached by huggingface_hub), for `datasets` versions
    that no longer run the dataset's loading script."""
    from huggingface_hub import hf_hub_download

    archive = hf_hub_download(HF_DATASET, "data.zip", repo_type="dataset")
    with zipfile.ZipFile(archive) as zipped:
        member = next((m for m in zipped.namelist() if m.rsplit("/", 1)[-1] == f"{name}.jsonl"), None)
        if member is None:
            raise FileNotFoundError(f"{archive} has no {name}.jsonl")
        return parse_jsonl(zipped.read(member).decode("utf-8").splitlines(), f"{archive}!{member}")


def load_rows(name: str, data_dir: str | None) -> list[dict]:
    """Rows of one released file (`name` is `<task>` or `<task>_e`): the local folder, else the hub
    (`datasets.load_dataset`, then the released data.zip)."""
    if data_dir is not None:
        folder = resolve_data_path(data_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"LongBench data_dir '{data_dir}' ({folder}) is not a directory")
        path = folder / f"{name}.jsonl"
        if not path.is_file():
            present = sorted(p.stem for p in folder.glob("*.jsonl"))
            raise FileNotFoundError(
                f"LongBench file {path} not found; {folder} holds: {', '.join(present) or 'no .jsonl files'}"
            )
        return read_jsonl(path)
    errors = []
    if not any(os.environ.get(flag, "").lower() in ("1", "true", "yes") for flag in OFFLINE_FLAGS):
        try:
            import datasets

            rows = [dict(row) for row in datasets.load_dataset(HF_DATASET, name, split="test")]
            for index, row in enumerate(rows):
                row["_where"] = f"{HF_DATASET}/{name}[{index}]"
            return rows
        except Exception as err:  # offline, or a datasets version without loading-script support
            errors.append(f"datasets: {type(err).__name__}: {err}")
        try:
            return _from_hub_zip(name)
        except ValueError:  # the archive is there but a line is bad: report it as it is
            raise
        except Exception as err:
            errors.append(f"data.zip: {type(err).__name__}: {err}")
    else:
        errors.append("offline mode is set")
    raise FileNotFoundError(
        f"LongBench data for '{name}' is unavailable: no data_dir is set and the Hugging Face dataset {HF_DATASET} "
        f"could not be loaded ({'; '.join(errors)}). Download {DATA_URL}, unzip it and set data_dir to the folder "
        f"holding {name}.jsonl (e.g. benchmark.data_dir=/path/to/data)."
    )


def select_tasks(tasks: Any, longbench_e: bool) -> list[str]:
    valid = LONGBENCH_E_TASKS if longbench_e else list(TASKS)
    if tasks is None or tasks == "all":
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
    """Config: tasks (list or "all"), samples_per_task (null = all), data_dir, longbench_e."""

    name = "longbench"

    def __init__(self, tasks: Any = "all", samples_per_task: int | None = None, data_dir: str | None = None,
                 longbench_e: bool = False, **config: Any):
        super().__init__(tasks=tasks, samples_per_task=samples_per_task, data_dir=data_dir,
                         longbench_e=longbench_e, **config)
        if config:
            raise ValueError(f"Unknown LongBench option(s): {', '.join(sorted(config))}. "
                             "Valid: tasks, samples_per_task, data_dir, longbench_e")
        if samples_per_task is not None and int(samples_per_task) < 1:
            raise ValueError(f"samples_per_task must be a positive integer or null, got {samples_per_task}")
        self.longbench_e = bool(longbench_e)
        self.tasks = select_tasks(tasks, self.longbench_e)
        self.samples_per_task = None if samples_per_task is None else int(samples_per_task)
        self.data_dir = data_dir

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
            strip=False,  # eval.py scores the decoded text as it is
            meta={"length": row["length"], "language": row.get("language"), "all_classes": row["all_classes"],
                  "_id": row.get("_id"), "longbench_e": self.longbench_e},
        )

    def samples(self, tokenizer=None) -> Iterator[Sample]:
        for task in self.tasks:
            rows = load_rows(f"{task}_e" if self.longbench_e else task, self.data_dir)
            if self.samples_per_task is not None:
                rows = rows[: self.samples_per_task]
            for index, row in enumerate(rows):
                yield self.build_sample(task, row, index)

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:
        spec = TASKS[sample.task]
        if spec["first_line"]:
            prediction = prediction.lstrip("\n").split("\n")[0]
        metric = get_metric(spec["metric"])
        value = best_over_references(metric, prediction, sample.references, all_classes=sample.meta.get("all_classes"))
        return {spec["metric"]: value}

    def summarize(self, records: list[dict]) -> dict:
        """Task scores (x100), the paper's categories, per-language leaderboard averages, and for
        LongBench-E the scores per length bucket."""
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
