"""One run from its plan: find or create its run dir, hold its lock, load, apply, evaluate.

A finished run is found by its config and not recomputed; an interrupted one resumes from
records.jsonl; `rerun=true` moves the old directory aside instead of overwriting it. Every
choice was made in the plan (evals.run.plan); here the samples are checked against the data and
the preset's provenance, then the model is loaded once per session and the method applied.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import yaml
from omegaconf import DictConfig

from evals.benchmarks.common.lm import LanguageModel
from evals.files import safe_io
from evals.files.layout import CONFIG, METRICS, STATUS, move_aside, records_file
from evals.report.frames import run_frame
from evals.report.plots import needle_heatmap
from evals.run.held_out import check_plan
from evals.run.identity import run_key
from evals.run.lock import RunLock, RunLocked
from evals.run.loggers import Logger, get_logger
from evals.run.loop import run_benchmark
from evals.run.memory_guard import check_fits, longest_prompt
from evals.run.plan import RunPlan, make_plan
from evals.run.preflight import check_samples
from evals.run.provenance import code_provenance
from evals.run.records import DuplicateRecord, RecordFile, RecordsBusy
from evals.run.sample_method import SampleMethod
from evals.run.session import Session
from evals.run.shards import merge_shards
from lampe import apply_method


class ConfigError(ValueError):
    """A bad choice in the config (parameter value, benchmark task, shard): reported without a
    traceback by the command line."""


def run(cfg: DictConfig, session: Session | None = None) -> dict:
    """Run (or find) one model x method x benchmark; returns metrics.json's content."""
    return run_with_dir(cfg, session=session)[1]


def run_with_dir(cfg: DictConfig, plan: RunPlan | None = None, session: Session | None = None) -> tuple[Path, dict]:
    """`run`, also returning the run directory. `plan`: this config's, already made; `session`:
    what this process already holds (a fresh one loads the model)."""
    session = session or Session()
    try:
        plan = plan or make_plan(cfg, session)
        if not plan.options.merge_only:
            check_samples(plan, session)
            # a fitted preset never scores a test sample it was fitted on (evals.run.held_out)
            check_plan(plan.values, plan.benchmark, lambda: plan.benchmark.sample_list(session.get_tokenizer(plan.model)))
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(str(err)) from err
    return plan.run_dir, _run(plan, session)


def read_json(path: Path) -> dict | None:
    """A JSON object file, or None when it is missing, torn, not JSON or not an object."""
    try:
        value = json.loads(safe_io.read_text(path))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _writer(plan: RunPlan) -> RecordFile:
    """This process's records file, locked for the whole run (refused while another process holds it)."""
    try:
        return RecordFile.writer(plan.records_path)
    except (RecordsBusy, DuplicateRecord, ValueError) as err:  # busy, or two writers' leftovers: named
        raise ConfigError(str(err)) from None


def _claim(plan: RunPlan) -> tuple[str, RecordFile | None]:
    """Create or reuse the run dir: ('done', None), ('resume', writer) or ('new', writer).

    The writer holds the records file's lock from here to the end of the run. Never overwrites
    silently; refuses a symlinked folder or file, and a smaller `limit` than a finished run's."""
    path, sharded, merge_only = plan.run_dir, plan.shard[1] > 1, plan.options.merge_only
    safe_io.check_run_folder(plan.root, path)
    if path.exists() and plan.options.rerun:
        if sharded:
            raise ValueError(f"rerun=true with {plan.shard[1]} shards would move {path} aside once per process; "
                             f"move it away by hand (or rerun=true in one process first)")
        held = _writer(plan)  # another live writer refuses the move
        try:
            old = move_aside(path)
        finally:
            held.close()
        print(f"[lampe] rerun=true: moved the previous run to {old}")
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)  # shards may race here: same content either way
        writer = None if merge_only else _writer(plan)
        if not (path / CONFIG).exists():
            safe_io.write_atomic(path / CONFIG, yaml.safe_dump(plan.stored, sort_keys=False))
        return "new", writer
    writer = None if merge_only else _writer(plan)
    try:
        if not sharded and writer is not None:
            safe_io.remove_stale_temps(path)  # a killed writer's; we alone write here now
        _check_config(plan)
        status, metrics = read_json(path / STATUS) or {}, read_json(path / METRICS)
        if status.get("status") == "complete" and metrics is not None:
            limit, done = plan.options.limit, metrics.get("num_samples")
            if status.get("limit") == limit:
                if writer is not None:
                    writer.close()
                return "done", None
            if limit is not None and isinstance(done, int) and limit < done:
                raise ConfigError(
                    f"{path} holds a finished run of {done} samples (limit={status.get('limit')}); limit={limit} "
                    f"would replace its metrics with fewer: use limit={done} or more (null: all), another "
                    f"results_dir, or rerun=true to start afresh")
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    return "resume", writer


def _check_config(plan: RunPlan) -> None:
    """The folder's config.yaml must be this config's (a hash collision or an edited file is refused)."""
    config_path = plan.run_dir / CONFIG
    if not config_path.exists():
        safe_io.write_atomic(config_path, yaml.safe_dump(plan.stored, sort_keys=False))
        return
    try:
        old = yaml.safe_load(safe_io.read_text(config_path))
    except (yaml.YAMLError, ValueError):
        old = None
    if not isinstance(old, dict):
        raise FileExistsError(f"{config_path} is not a valid config (torn or edited); move the folder away or run "
                              f"with rerun=true")
    old_key = run_key(old.get("model") or {}, old.get("method") or {}, old.get("benchmark") or {})
    if old_key != plan.key:
        raise FileExistsError(
            f"{plan.run_dir} holds a run with another config (hash collision or edited config.yaml); "
            f"move it away or run with rerun=true"
        )


def _not_writable(err: OSError, plan: RunPlan) -> ConfigError:
    return ConfigError(f"results_dir={plan.options.results_dir!r} cannot be written ({plan.root}: "
                       f"{err.strerror or err}); choose a writable results_dir")


def _run(plan: RunPlan, session: Session) -> dict:
    """Hold the run's lock for the whole run: one writer per run directory."""
    try:
        lock = RunLock(plan.run_dir, plan.shard, plan.root).acquire(wait=plan.options.wait)
    except RunLocked as err:
        raise ConfigError(str(err)) from None
    except safe_io.UnsafePath as err:
        raise ConfigError(str(err)) from None
    except OSError as err:
        raise _not_writable(err, plan) from None
    try:
        return _run_locked(plan, session)
    finally:
        lock.release()


def _run_locked(plan: RunPlan, session: Session) -> dict:
    existed = plan.run_dir.exists()
    try:
        state, writer = _claim(plan)
    except (safe_io.UnsafePath, FileExistsError) as err:
        raise ConfigError(str(err)) from None
    except OSError as err:
        if not existed and plan.shard[1] == 1:
            _drop_if_empty(plan.run_dir, plan.root)
        raise _not_writable(err, plan) from None
    try:
        return _run_claimed(plan, session, state, writer)
    except BaseException:
        if writer is not None:
            writer.close()
        if state == "new" and plan.shard[1] == 1:
            _drop_if_empty(plan.run_dir, plan.root)  # a run that failed before its first record leaves no folder
        raise
    finally:
        if writer is not None:
            writer.close()


DROPPABLE = (CONFIG, "generation.json")  # what a run writes before its first record


def _drop_if_empty(path: Path, root: Path) -> None:
    """Remove a run folder that holds no record (only its config, decoding settings, empty records
    or a dead writer's temp files), then its empty parents up to results_dir."""
    if not path.is_dir() or path.is_symlink():
        return
    entries = list(path.iterdir())

    def droppable(entry: Path) -> bool:
        if entry.is_symlink() or not entry.is_file():
            return False
        if entry.name.startswith("records"):
            return entry.stat().st_size == 0
        return entry.name in DROPPABLE or safe_io.TEMP_MARK in entry.name

    if not all(droppable(e) for e in entries):
        return
    for entry in entries:
        entry.unlink(missing_ok=True)
    path.rmdir()
    parent = path.parent
    while parent != root and root in parent.parents:
        try:
            parent.rmdir()  # only when empty: another run's folder stays
        except OSError:
            break
        parent = parent.parent


def _summarize_recorded(plan: RunPlan, session: Session, writer: RecordFile) -> dict | None:
    """Metrics from the records alone when every sample this run takes is recorded (a finished
    run whose metrics.json or run.json is torn): no model is loaded. None otherwise."""
    if plan.shard[1] > 1 or plan.benchmark.lazy_samples or plan.benchmark.has_own_loop:
        return None
    done = writer.done_ids
    if not done:
        return None
    ids = [s.id for s in plan.benchmark.sample_list(session.get_tokenizer(plan.model))[:plan.options.limit]]
    if not ids or any(i not in done for i in ids):
        return None
    wanted = set(ids)
    metrics = plan.benchmark.summary([r for r in writer.records if r["id"] in wanted])
    safe_io.write_atomic(plan.run_dir / METRICS, json.dumps(metrics, indent=2))
    return metrics


def _run_claimed(plan: RunPlan, session: Session, state: str, writer: RecordFile | None) -> dict:
    index, count = plan.shard
    if state == "done":
        print(f"[lampe] {plan.label}: finished run found at {plan.run_dir} (rerun=true recomputes it)")
        metrics = read_json(plan.run_dir / METRICS)
        print_summary(plan.run_dir, metrics)
        return metrics
    print(f"[lampe] {plan.label}: {'resuming' if state == 'resume' else 'new run'} in {plan.run_dir}")

    if plan.options.merge_only:
        tokenizer = session.get_tokenizer(plan.model)
        metrics = merge_shards(plan.run_dir, plan.benchmark, tokenizer, plan.options.limit, count)
        if metrics is None:
            raise RuntimeError(f"{plan.run_dir}: shards incomplete, nothing merged")
        return _finish(plan, metrics, None, {"samples": metrics.get("num_samples")})
    if state == "resume":
        metrics = _summarize_recorded(plan, session, writer)
        if metrics is not None:
            print(f"[lampe] every sample is recorded: metrics recomputed from {writer.path.name}, no model loaded")
            return _finish(plan, metrics, None, {"samples": metrics.get("num_samples")})

    torch.manual_seed(plan.options.seed)
    if plan.options.threads:
        torch.set_num_threads(plan.options.threads)
    logger = get_logger(plan.options.logger)
    logger.start(plan.stored, f"{plan.model['name']}-{plan.method}-{plan.run_id}", plan.root)
    started = time.time()
    model, tokenizer = session.get_model(plan.model)
    per_sample = SampleMethod(plan.method, plan.values, plan.model.get("pretraining_length"))
    apply_method(model, plan.method, **per_sample.fixed)
    try:
        estimate = check_fits(model, longest_prompt(plan.benchmark_options), force=plan.options.force)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if estimate:
        print(f"[lampe] {estimate}")
    lm = LanguageModel(model, tokenizer, max_length=plan.max_length, chat_template=plan.model.get("chat_template", True))
    per_sample.bind(model, plan.benchmark, lm)  # each sample's own parameters, recorded with it
    loaded = time.time()
    recorded_before = set(writer.done_ids)  # tokens/s: this process's only
    metrics = run_benchmark(plan.benchmark, lm, plan.run_dir, limit=plan.options.limit,
                            progress=plan.options.progress, shard=(index, count),
                            before_sample=per_sample if per_sample.per_sample else None,
                            after_sample=per_sample.annotate, records=writer)
    timing = {"load_s": round(loaded - started, 1), "eval_s": round(time.time() - loaded, 1)}
    if count > 1:
        merged = merge_shards(plan.run_dir, plan.benchmark, tokenizer, plan.options.limit, count)
        if merged is None:
            _write_status(plan, "shard_done", {**timing, "shard": [index, count]})
            logger.finish()
            print(f"[lampe] shard {index}/{count} finished its {metrics.get('num_samples')} samples "
                  f"({plan.records_path.name}); the run's metrics.json waits for the merge, which the last shard "
                  f"to finish writes (or: shard.count={count} shard.merge_only=true once all are done)")
            return metrics
        metrics = merged
    return _finish(plan, metrics, logger, timing, recorded_before)


def _write_status(plan: RunPlan, status: str, extra: dict) -> None:
    info = {"status": status, "limit": plan.options.limit, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "code": code_provenance(), **extra}
    safe_io.write_atomic(plan.run_dir / STATUS, json.dumps(info, indent=2))


def _finish(plan: RunPlan, metrics: dict, logger: Logger | None, timing: dict,
            recorded_before: set[str] = frozenset()) -> dict:
    """run.json says complete last: after metrics.json and the heatmap are whole on disk.
    `recorded_before`: the ids recorded before this process started (its tokens/s counts the rest)."""
    records = RecordFile(records_file(plan.run_dir)).records
    tokens = sum(int(r.get("prompt_tokens") or 0) for r in records if r.get("id") not in recorded_before)
    if "eval_s" in timing:
        timing["prompt_tokens"] = tokens  # evaluated by this process: a resume does not count earlier runs'
    if timing.get("eval_s"):
        timing["prompt_tokens_per_s"] = round(tokens / max(timing["eval_s"], 1e-9), 1)
    heatmap = _heatmap(plan.run_dir, metrics)
    _write_status(plan, "complete", timing)
    if logger is not None:
        logger.log_metrics(metrics)
        frame = run_frame(metrics)
        if len(frame):
            logger.log_table("summary", frame)
        if heatmap is not None:
            logger.log_image("heatmap", heatmap)
        logger.finish()
    print_summary(plan.run_dir, metrics, timing)
    return metrics


def _heatmap(run_dir: Path, metrics: dict) -> Path | None:
    """needle/passkey: the depth x length heatmap next to the records (and to the logger)."""
    if not metrics.get("grid"):
        return None
    return needle_heatmap(metrics, run_dir / "heatmap.png", title=f"{run_dir.parts[-4]} / {run_dir.parts[-3]}")


def print_summary(run_dir: Path, metrics: dict, timing: dict | None = None) -> None:
    frame = run_frame(metrics)
    print(f"\n[lampe] {run_dir}")
    if timing:
        print("        " + ", ".join(f"{k}={v}" for k, v in timing.items()))
    print(frame.to_markdown(floatfmt=".2f") if len(frame) else "(no task scores)")
    if metrics.get("average") is not None:
        print(f"average: {metrics['average']:.2f}  ({metrics.get('num_samples', '?')} samples)\n")


def objective(metrics: dict, path: str) -> float:
    """The number a sweeper maximizes: a dotted path into metrics ('average', 'tasks.qa.f1')."""
    value = metrics
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            keys = ", ".join(value) if isinstance(value, dict) else "(a number)"
            raise ValueError(f"objective '{path}' not in metrics: at '{part}' the keys are {keys}")
        value = value[part]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"objective '{path}' is {value!r}, not a number (no samples evaluated?)")
    return float(value)
