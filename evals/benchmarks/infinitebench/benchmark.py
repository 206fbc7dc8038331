"""The InfiniteBench benchmark: its 12 tasks prompted, cut and scored as OpenBMB/InfiniteBench's
scripts do, the three synthetic retrieval tasks built here at any length, the other nine read
from the released files (data_dir, else the hub).

Prompt formats (evals.benchmarks.common.prompt_format): `official` sends what every open-weight model's script
sends, whatever the family: the yarn-mistral template bare, with the tokenizer's own special
tokens, the middle cut to `max_length` tokens (BOS counted) and the kept tokens decoded as one
sequence (eval_yarn_mistral.py:26-45, eval_yi_200k.py and eval_chatglm.py alike); `raw` is the
same text; `chat` puts the template, without its closing cue ("The pass key is"), in one user
turn of the model's chat template and the cue after the generation prompt.

`split` (evals.benchmarks.common.splits): the synthetic tasks draw a dev sample's keys from the dev
half of the values with "dev" mixed into its seed (ids "<task>-dev-<length>-<index>"); a
released task keeps the records whose context is a dev (one in five, by its hash) or a test
document, so records that share a book stay on one side.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any, Iterator

from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.common.sources import Source
from evals.benchmarks.common.splits import content_key, document_split, sample_id
from evals.benchmarks.infinitebench import data, prompts, scoring
from evals.benchmarks.infinitebench.synthetic import SIZINGS, SyntheticTask
from evals.benchmarks.infinitebench.tasks import TASKS, check_tasks
from evals.benchmarks.options import PROMPT_FORMAT, SPLIT, Option, count, lengths, max_length
from evals.benchmarks.registry import register_benchmark

LISTED_AT_MOST = 256  # samples; a run with more (or an unknown number) streams them


def _checked_tasks(tasks: list[str]) -> list[str]:
    check_tasks(tasks)  # names, once each; "all" stays "all" (its tasks without data are skipped, not refused)
    return tasks


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@register_benchmark
class InfiniteBench(Benchmark):
    name = "infinitebench"
    options = (
        max_length(),  # the 128k scripts' TRUNCATE_LEN: 131072 (BOS counted); synthetic prompts fit their length
        Option("tasks", ["passkey", "number_string", "kv_retrieval"], "strs", min_items=1,
               check=_checked_tasks, doc='task names, or "all" (12 tasks)'),
        lengths([4096, 12288]),  # synthetic tasks: prompt + generation budget, in the model's tokens
        count("num_samples", 1, "synthetic tasks: per task per length; null: the official count (590, 590, 500)"),
        count("samples_per_task", None, "released tasks: the first N records; null: all"),
        Option("sizing", "fit", "str", choices=SIZINGS,
               doc="fit (fill each length) | official (construct_synthetic_dataset.py's line / pair counts)"),
        Option("seed", 42, "int", doc="synthetic keys and values"),
        Option("data_dir", None, "str", null=True, doc="the released <task>.jsonl files; null: the hub"),
        PROMPT_FORMAT,
        SPLIT,
    )

    def __init__(self, **config: Any):
        super().__init__(**config)
        c = self.config
        self.tasks: list[str] = check_tasks(c["tasks"])
        self.default_list = c["tasks"] == ["all"]
        self.sources: dict[str, Source] = {}
        self._generators: dict[tuple, SyntheticTask] = {}
        self.check_data()

    # ---- data ------------------------------------------------------------------------------

    def check_data(self) -> None:
        """Find every released task's file now (no model needed). With `tasks: all` a task without
        data is dropped and named in one warning; a task named in `tasks` without data is an error."""
        missing, why = [], {}
        for task in (t for t in self.tasks if not TASKS[t].synthetic and t not in self.sources):
            if self.config["data_dir"] is not None:
                source = data.local_source(task, self.config["data_dir"])
                reason = f"no {task}.jsonl in data_dir {data.check_data_dir(self.config['data_dir'])}"
            else:
                source, reason = data.hub_source(task)
                reason = f"{task}.jsonl is not on this machine and the hub's {data.HF_DATASET}: {reason}"
            if source is None:
                missing.append(task)
                why[task] = reason
            else:
                self.sources[task] = source
        if not missing:
            return
        what = "; ".join(why[t] for t in missing[:3]) + (f" (and {len(missing) - 3} more)" if len(missing) > 3 else "")
        if not self.default_list:
            raise FileNotFoundError(f"InfiniteBench: no data for {', '.join(missing)}: {what}. {data.how_to_get(missing)}")
        self.tasks = [t for t in self.tasks if t not in missing]
        warnings.warn(f"InfiniteBench: no data for {', '.join(missing)} ({what}); running "
                      f"{', '.join(self.tasks)}. {data.how_to_get(missing)}", stacklevel=3)

    # ---- samples ---------------------------------------------------------------------------

    def sample_for(self, task: str, row: dict, sample_id: str, meta: dict) -> Sample:
        """One record as a Sample in the run's prompt format (the label kept in meta for scoring)."""
        spec = TASKS[task]
        text, cue = prompts.prompt_parts(task, row)
        label = prompts.answer(task, row)
        if spec.synthetic:  # what it asks for (a kv sample: the key and its value)
            asked = prompts.references(label) + ([row["meta"]["key"]] if task == "kv_retrieval" else [])
            content = [f"infinitebench:{task}:{value}" for value in asked]
        else:
            content = [content_key("document", str(row.get("context", "")))]
        chat = self.config["prompt_format"] == "chat"
        prompt = text[:len(text) - len(cue)].rstrip() if chat and cue else text
        return Sample(
            id=sample_id, task=task, prompt=prompt, references=prompts.references(label),
            max_new_tokens=spec.max_new_tokens, answer_prefix=cue if chat else "",
            strip=False,  # compute_scores.py scores the decoded text as it is
            prompt_format=self.config["prompt_format"], official={}, special_tokens=True, truncation="joined",
            meta={**meta, "label": label, "content": content},
        )

    def generator(self, task: str, length: int, tokenizer) -> SyntheticTask:
        """The task's construction at this length (under `fit`, sized for this tokenizer)."""
        key = (task, length, id(tokenizer) if self.config["sizing"] == "fit" else None)
        if key not in self._generators:
            counter = LanguageModel(None, tokenizer, max_length=None) if tokenizer is not None else None
            tokens = (lambda row: len(counter.prompt_ids(self.sample_for(task, row, "count", {})))) if counter else None
            self._generators[key] = SyntheticTask(task, length, self.config["seed"], self.config["sizing"], tokens,
                                                  budget=length - TASKS[task].max_new_tokens, split=self.split)
        return self._generators[key]

    def synthetic_samples(self, tokenizer) -> Iterator[Sample]:
        """Length by length, sample index by index, each synthetic task: a small limit spans tasks."""
        tasks = [t for t in self.tasks if TASKS[t].synthetic]
        for length in self.config["lengths"]:
            counts = {t: self.config["num_samples"] or self.generator(t, length, tokenizer).official_count() for t in tasks}
            for index in range(max(counts.values(), default=0)):
                for task in (t for t in tasks if index < counts[t]):
                    row = self.generator(task, length, tokenizer).record(index, counts[task])
                    meta = {"length": length, "sizing": self.config["sizing"], "seed": self.config["seed"], **row["meta"]}
                    yield self.sample_for(task, row, sample_id(task, self.split, length, index), meta)

    def released_samples(self) -> Iterator[Sample]:
        for task in (t for t in self.tasks if not TASKS[t].synthetic):
            rows = [r for r in self.sources[task].rows() if document_split(str(r.get("context", ""))) == self.split]
            for index, row in enumerate(rows[: self.config["samples_per_task"]]):
                where = row.get("_where", f"{task}[{index}]")
                meta = {"_id": row.get("id", index), "data": self.sources[task].kind, "where": where}
                yield self.sample_for(task, row, f"{task}-{row.get('id', index)}", meta)

    def samples(self, tokenizer=None) -> Iterator[Sample]:
        yield from self.synthetic_samples(tokenizer)
        yield from self.released_samples()

    def sample_count(self) -> int | None:
        """Known without building when every part has a set count (official sizing or num_samples
        for the synthetic tasks, samples_per_task for the released ones, which may hold fewer)."""
        total = 0
        for task in self.tasks:
            if TASKS[task].synthetic:
                if self.config["num_samples"] is None and self.config["sizing"] != "official":
                    return None
                total += sum(self.config["num_samples"] or self.generator(task, n, None).official_count()
                             for n in self.config["lengths"])
            elif self.config["samples_per_task"] is None:
                return None
            else:
                total += self.config["samples_per_task"]
        return total

    @property
    def lazy_samples(self) -> bool:
        """The paper's setting (thousands of 128k prompts) streams; a small preset is listed once."""
        count = self.sample_count()
        return count is None or count > LISTED_AT_MOST

    def content_keys(self, sample: Sample) -> list[str]:
        """A synthetic sample's asked values, a released one's document."""
        return list(sample.meta["content"])

    # ---- scores ----------------------------------------------------------------------------

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:
        return {TASKS[sample.task].metric: scoring.score(sample.task, prediction, sample.meta["label"])}

    def summarize(self, records: list[dict]) -> dict:
        """Task scores x100 (a synthetic task per length, as RULER's table), their mean, the mean
        of the synthetic tasks per length, and where each released task's records came from."""
        cells: dict[str, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
        for record in records:
            task = record["task"]
            value = float(record["scores"][TASKS[task].metric])
            key = record["meta"]["length"] if TASKS[task].synthetic else TASKS[task].metric
            cells[task][key].append(value)
        ordered = [t for t in TASKS if t in cells]
        tasks = {t: {str(k): 100.0 * _mean(cells[t][k]) for k in sorted(cells[t])} for t in ordered}
        lengths = sorted({n for t in ordered if TASKS[t].synthetic for n in cells[t]})
        per_length = {str(n): _mean([tasks[t][str(n)] for t in ordered if TASKS[t].synthetic and str(n) in tasks[t]])
                      for n in lengths}
        task_scores = [_mean(list(v.values())) for v in tasks.values()]
        return {
            "tasks": tasks,
            "average": _mean(task_scores),
            "average_per_length": per_length,
            "counts": {t: sum(len(v) for v in cells[t].values()) for t in ordered},
            "labels": {t: TASKS[t].label for t in ordered},
            "num_samples": len(records),
            "data_sources": {t: sorted({str(r["meta"].get("data")) for r in records if r["task"] == t})
                             for t in ordered if not TASKS[t].synthetic},
        }

