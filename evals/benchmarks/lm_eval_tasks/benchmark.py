"""`benchmark=lm_eval`: lm-evaluation-harness tasks, run by lm-eval itself on the loaded model.

lm-eval owns prompts, batching and scoring, so this benchmark has no `samples`/`score`: its
`run_own_loop(lm, out_dir)` wraps the runner's already-loaded (and already method-edited) model
in lm-eval's HFLM (`adapter.LoadedLM`) and calls `lm_eval.simple_evaluate`. The run directory gets lm-eval's own results
(lm_eval_results.json), one record per sample (records.jsonl) and metrics.json in the shape of
`Benchmark.summarize`, so tables read it like any other run. Values are lm-eval's own scale
(accuracy in [0, 1]), so they compare directly with `lm_eval` output.

A rerun in the same directory is cheap: model answers are cached per request in
lm_eval_cache_rank0.db (lm-eval's `use_cache`), so only missing requests are computed.
"""
from __future__ import annotations

import difflib
import fnmatch
import json
from pathlib import Path
from typing import Any

import lm_eval
from lm_eval.tasks import TaskManager
from lm_eval.utils import handle_non_serializable

from evals.benchmarks.base import Benchmark
from evals.benchmarks.lm_eval_tasks.adapter import LoadedLM
from evals.benchmarks.options import Option, max_length
from evals.benchmarks.registry import register_benchmark
from evals.files.paths import resolve_data_path
from evals.files.safe_io import write_atomic

RESULTS_FILE = "lm_eval_results.json"
CACHE_PREFIX = "lm_eval_cache"  # lm-eval appends _rank<k>.db
# lm-eval result keys that are not metrics
NOT_METRICS = {"alias", "name", "sample_len", "samples"}


def metric_name(key: str) -> str:
    """lm-eval's 'acc,none' -> 'acc'; a named filter stays: 'exact_match,strict-match'."""
    metric, _, filt = key.partition(",")
    return metric if filt in ("", "none") else key


def task_metrics(entry: dict) -> dict[str, float]:
    """The numeric metrics of one lm-eval results entry, stderr left out, lm-eval's order kept."""
    out = {}
    for key, value in entry.items():
        if key in NOT_METRICS or "_stderr" in key.partition(",")[0]:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[metric_name(key)] = float(value)
    return out


def summarize_results(results: dict) -> dict:
    """{"tasks": {task: {metric: value}}, "groups": ..., "average", "num_samples"} from lm-eval results.

    Tasks are lm-eval's leaf tasks (those with a config); groups carry lm-eval's own aggregate.
    The average is over leaf tasks of each task's first metric, as Benchmark.summarize does.
    """
    leaves = set(results.get("configs", {}))
    tasks, groups = {}, {}
    for name, entry in sorted(results.get("results", {}).items()):
        (tasks if name in leaves else groups)[name] = task_metrics(entry)
    main = [next(iter(m.values())) for m in tasks.values() if m]
    counts = results.get("n-samples", {})
    return {
        "tasks": tasks,
        "groups": groups,
        "average": sum(main) / len(main) if main else None,
        "num_samples": sum(int(c.get("effective", 0)) for c in counts.values()),
        "source": f"lm-eval {results.get('lm_eval_version', '')}".strip(),
    }


def unwrap(response):
    """A generation's filtered response comes as a one-element list: keep the string."""
    if isinstance(response, list) and len(response) == 1 and isinstance(response[0], str):
        return response[0]
    return response


def sample_records(samples: dict[str, list[dict]]) -> list[dict]:
    """lm-eval's logged samples as lampe records (id, task, prediction, references, scores, meta)."""
    records = []
    for task, rows in sorted(samples.items()):
        for row in rows:
            metrics = row.get("metrics", [])
            record = {
                "id": f"{task}/{row['doc_id']}",
                "task": task,
                "prediction": unwrap(row.get("filtered_resps")),
                "references": [row.get("target")],
                "scores": {m: row[m] for m in metrics if m in row},
                "meta": {"doc_id": row["doc_id"], "filter": row.get("filter"), "doc_hash": row.get("doc_hash"),
                         "prompt_hash": row.get("prompt_hash")},
            }
            records.append(json.loads(json.dumps(record, default=handle_non_serializable)))
    return records


def _paths(value):
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError(f"Invalid benchmark.include_path={value!r}: expected a folder, a list of folders, or null")
    return value


def _batch_size(value):
    number = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if not number and not (isinstance(value, str) and value.split(":")[0] == "auto"):
        raise ValueError(f"Invalid benchmark.batch_size={value!r}: expected an integer >= 1, or auto / auto:N")
    return value


@register_benchmark
class LmEvalTasks(Benchmark):
    name = "lm_eval"
    options = (
        max_length(),  # lm-eval's max_length (inputs left-truncated to it); null: the model's window, as lm-eval does
        Option("tasks", ["lampe_fixture"], "strs", min_items=1, doc="task names, tags, groups or globs (`lm_eval ls tasks`)"),
        Option("include_path", "tests/fixtures/lm_eval_tasks", "any", null=True, check=_paths,
               doc="extra task YAML folder(s): from the current folder, else this checkout; null: none"),
        Option("include_defaults", True, "bool", doc="false: only include_path tasks (skips lm-eval's catalogue, ~5 s)"),
        Option("num_fewshot", None, "int", low=0, null=True, doc="null: each task's default"),
        Option("limit", None, "number", low=0, null=True,
               doc="per task: an int = the first N docs, a float < 1 = that fraction; the runner's limit wins"),
        Option("batch_size", 1, "any", check=_batch_size, doc="an integer, or auto / auto:N (lm-eval's)"),
        Option("apply_chat_template", False, "bool"),
        Option("fewshot_as_multiturn", None, "bool", null=True, doc="null: lm-eval's default (on with a chat template)"),
        Option("gen_kwargs", None, "any", null=True, doc="e.g. {temperature: 0}; overrides the tasks' generation_kwargs"),
        Option("metadata", None, "mapping", null=True,
               doc="task metadata, e.g. RULER's {max_seq_lengths: [4096], tokenizer: <hub id>}"),
        Option("bootstrap_iters", 100000, "int", low=0, doc="lm-eval's stderr bootstrap (0 skips it)"),
        Option("use_cache", True, "bool", doc="cache answers per request in the run dir, so a rerun resumes"),
    )

    def __init__(self, **config: Any):
        super().__init__(**config)
        tasks = self.config["tasks"]
        if len(tasks) == 1 and "," in tasks[0]:  # lm-eval's own spelling: "a,b"
            tasks = [t.strip() for t in tasks[0].split(",") if t.strip()]
        self.tasks = [str(t) for t in tasks]

    def samples(self, tokenizer):
        raise NotImplementedError("lm-eval builds its own requests: call LmEvalTasks.run_own_loop(lm, out_dir)")

    def score(self, sample, prediction):
        raise NotImplementedError("lm-eval scores its own tasks: call LmEvalTasks.run_own_loop(lm, out_dir)")

    def include_paths(self) -> list[str] | None:
        paths = self.config["include_path"]
        if paths is None:
            return None
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        resolved = []
        for path in paths:
            full = resolve_data_path(path)
            if not full.is_dir():
                raise FileNotFoundError(f"lm_eval include_path '{path}' is not a directory ({full})")
            resolved.append(str(full))
        return resolved

    def task_manager(self):
        """lm-eval's TaskManager over its catalogue and include_path; unknown task names fail here."""
        manager = TaskManager(
            include_path=self.include_paths(), include_defaults=bool(self.config["include_defaults"]),
            metadata=self.config["metadata"],
        )
        known = manager.all_tasks
        for task in self.tasks:
            if any(ch in task for ch in "*?[") and fnmatch.filter(known, task):
                continue
            if task not in known:
                close = difflib.get_close_matches(task, known, n=5)
                raise ValueError(
                    f"Unknown lm-eval task '{task}'. "
                    + (f"Close matches: {', '.join(close)}. " if close else "")
                    + f"{len(known)} tasks known (list them with `lm_eval ls tasks`"
                    + (f" --include_path {' '.join(self.include_paths())})" if self.config["include_path"] else ")")
                )
        return manager

    def wrap(self, lm) -> LoadedLM:
        """lm-eval's view of the runner's LanguageModel: HFLM over the same loaded model."""
        return LoadedLM(lm.model, lm.tokenizer, batch_size=self.config["batch_size"],
                        max_length=getattr(lm, "max_length", None))

    def run_own_loop(self, lm, out_dir: str | Path, *, limit: int | float | None = None, progress: bool = True,
                     shard: tuple[int, int] | None = None) -> dict:
        """Run the tasks with lm-eval; write lm_eval_results.json, records.jsonl, metrics.json.

        The runner's loop hands over here (Benchmark.run_own_loop); `limit` (the runner's) overrides the config's.
        lm-eval splits work over processes itself (accelerate), not through our shards.
        """
        if shard is not None and shard[1] > 1:
            raise ValueError(f"benchmark=lm_eval does not shard (got shard {shard[0]} of {shard[1]}): run one process")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        manager = self.task_manager()
        optional = {k: self.config[k] for k in ("fewshot_as_multiturn", "gen_kwargs") if self.config[k] is not None}
        results = lm_eval.simple_evaluate(
            model=self.wrap(lm),
            tasks=list(self.tasks),
            num_fewshot=self.config["num_fewshot"],
            limit=limit if limit is not None else self.config["limit"],
            task_manager=manager,
            apply_chat_template=self.config["apply_chat_template"],
            use_cache=str(out_dir / CACHE_PREFIX) if self.config["use_cache"] else None,
            bootstrap_iters=self.config["bootstrap_iters"],
            log_samples=True,
            metadata=self.config["metadata"],
            **optional,
        )
        samples = results.pop("samples", {}) or {}
        write_atomic(out_dir / RESULTS_FILE, json.dumps(results, indent=2, default=handle_non_serializable))
        records = sample_records(samples)
        write_atomic(out_dir / "records.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        metrics = summarize_results(results)
        write_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2))
        return metrics
