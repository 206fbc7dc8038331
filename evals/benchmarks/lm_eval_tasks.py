"""`benchmark=lm_eval`: lm-evaluation-harness tasks, run by lm-eval itself on the loaded model.

lm-eval owns prompts, batching and scoring, so this benchmark has no `samples`/`score`: its
`run(lm, out_dir)` wraps the runner's already-loaded (and already method-edited) model in
`LampeLM` and calls `lm_eval.simple_evaluate`. The run directory gets lm-eval's own results
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

from evals.benchmarks.base import Benchmark
from evals.benchmarks.registry import register_benchmark
from evals.files.paths import resolve_data_path

RESULTS_FILE = "lm_eval_results.json"
CACHE_PREFIX = "lm_eval_cache"  # lm-eval appends _rank<k>.db
# lm-eval result keys that are not metrics
NOT_METRICS = {"alias", "name", "sample_len", "samples"}


def plain(value):
    """Hydra hands lists and dicts over as OmegaConf containers; lm-eval wants plain ones."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


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
    from lm_eval.utils import handle_non_serializable

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


@register_benchmark
class LmEvalTasks(Benchmark):
    """Config keys: tasks (names, tags, groups or globs), num_fewshot, limit, include_path,
    include_defaults, batch_size, apply_chat_template, fewshot_as_multiturn, gen_kwargs, metadata,
    bootstrap_iters, use_cache."""

    name = "lm_eval"
    DEFAULTS: dict[str, Any] = {
        "tasks": None,
        "num_fewshot": None,
        "limit": None,  # int: first N docs per task; float < 1: that fraction (lm-eval's meaning)
        "include_path": None,  # directory (or list) of extra task YAMLs; relative to the repo root
        "include_defaults": True,  # false: only include_path tasks (faster start, no lm-eval catalogue)
        "batch_size": 1,
        "apply_chat_template": False,
        "fewshot_as_multiturn": None,  # None: lm-eval's default (on with a chat template)
        "gen_kwargs": None,
        "metadata": None,  # task metadata, e.g. RULER's {"max_seq_lengths": [4096], "tokenizer": "..."}
        "bootstrap_iters": 100000,
        "use_cache": True,  # per-request answer cache in the run dir: reruns resume
    }

    def __init__(self, **config: Any):
        unknown = sorted(set(config) - set(self.DEFAULTS))
        if unknown:
            raise ValueError(f"Unknown lm_eval benchmark option '{unknown[0]}'. Valid: {', '.join(self.DEFAULTS)}")
        super().__init__(**{**self.DEFAULTS, **{k: plain(v) for k, v in config.items()}})
        tasks = self.config["tasks"]
        if isinstance(tasks, str):
            tasks = [t.strip() for t in tasks.split(",") if t.strip()]
        if not tasks:
            raise ValueError("benchmark=lm_eval needs tasks, e.g. benchmark.tasks=[hellaswag] (see `lm_eval ls tasks`)")
        self.tasks = [str(t) for t in tasks]

    def samples(self, tokenizer):
        raise NotImplementedError("lm-eval builds its own requests: call LmEvalTasks.run(lm, out_dir)")

    def score(self, sample, prediction):
        raise NotImplementedError("lm-eval scores its own tasks: call LmEvalTasks.run(lm, out_dir)")

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
        from lm_eval.tasks import TaskManager

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

    def wrap(self, lm):
        """lm-eval's view of the runner's LanguageModel: LampeLM over the same loaded model."""
        from evals.run.lm_eval_model import LampeLM

        return LampeLM(
            pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=self.config["batch_size"],
            max_length=getattr(lm, "max_length", None),
        )

    def run(self, lm, out_dir: str | Path, *, limit: int | float | None = None, progress: bool = True,
            shard: tuple[int, int] | None = None) -> dict:
        """Run the tasks with lm-eval; write lm_eval_results.json, records.jsonl, metrics.json.

        Same call as evals.run.loop.run_benchmark; `limit` (the runner's) overrides the config's.
        lm-eval splits work over processes itself (accelerate), not through our shards.
        """
        import lm_eval
        from lm_eval.utils import handle_non_serializable

        from evals.files.safe_io import write_atomic

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
