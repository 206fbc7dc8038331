"""One run from a composed config: validate, find or create its run dir, load, apply, evaluate.

Order matters for the user: the method parameters and the benchmark config are checked before
the model loads (a typo fails in a second, not after a 16 GB download); a finished run is found
by its config and not recomputed; an interrupted one resumes from records.jsonl; `rerun=true`
moves the old directory aside instead of overwriting it.
"""
from __future__ import annotations

import importlib
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import yaml
from omegaconf import DictConfig, OmegaConf

from evals import options, results
from evals.lock import RunLock, RunLocked
from evals.loggers import get_logger
from evals.memory_guard import check_fits, longest_prompt
from evals.preflight import check_samples
from evals.records import RecordFile
from evals.greedy import GREEDY
from evals.held_out import check_plan
from evals.length_factor import AUTO, RULE_KEY, SampleMethod, auto_params
from evals.registry import get_benchmark
from lampe import get_method, load_model

RUNNER_KEYS = ("name", "max_length")  # benchmark config keys that are not constructor arguments
_LOAD_KEYS = ("name_or_path", "dtype", "device", "device_map", "attn_implementation", "trust_remote_code")
_loaded: dict[str, tuple] = {}  # the last model loaded: a multirun over methods loads it once


# ---- method parameters: the model's paper defaults under the user's choices ------------------

def method_values(method_cfg: dict, model_cfg: dict) -> dict:
    """Effective parameters of the chosen method: user > model's method_defaults > method default.

    Raises ValueError (unknown parameter, bad value, conflicting choices) without a model.
    """
    name = method_cfg["name"]
    cls = get_method(name)
    auto = auto_params(method_cfg)  # `auto` / rule=published: set per sample by the method's rule (evals.length_factor)
    rule = method_cfg.get(RULE_KEY)
    given = {k: v for k, v in method_cfg.items() if k not in ("name", RULE_KEY) and v is not None and k not in auto}
    defaults = {k: v for k, v in ((model_cfg.get("method_defaults") or {}).get(name) or {}).items() if k not in auto}
    merged = cls.merge_defaults(defaults, given)  # the method knows which of its parameters exclude each other
    accepts = {p.name for p in cls.params}
    if "pretraining_length" in accepts and merged.get("pretraining_length") is None:
        merged["pretraining_length"] = model_cfg.get("pretraining_length")
    for key in auto:
        merged.pop(key, None)
    values = cls.parse_params(merged)
    cls.check(values, model_cfg.get("pretraining_length"))
    if rule is not None:
        cls.check_published(values)
    return {**values, **dict.fromkeys(auto, AUTO), **({RULE_KEY: rule} if rule is not None else {})}


# ---- benchmark ------------------------------------------------------------------------------

def build_benchmark(benchmark_cfg: dict):
    """The Benchmark instance for a conf/benchmark/*.yaml (name, max_length, constructor kwargs)."""
    cls = get_benchmark(benchmark_cfg["name"])
    return cls(**{k: v for k, v in benchmark_cfg.items() if k not in RUNNER_KEYS})


# ---- sharding -------------------------------------------------------------------------------

def shard_of(shard_cfg: dict | None) -> tuple[int, int]:
    """(index, count): the config, else torchrun/accelerate (RANK, WORLD_SIZE), else Slurm tasks."""
    shard_cfg = shard_cfg or {}
    env = os.environ
    count = shard_cfg.get("count")
    if count is None:
        count = env.get("WORLD_SIZE") or env.get("SLURM_NTASKS") or 1
    index = shard_cfg.get("index")
    if index is None:
        index = env.get("RANK") or env.get("SLURM_PROCID") or 0
    index, count = int(index), int(count)
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"Invalid shard.index={index} / shard.count={count}: need 0 <= index < count")
    return index, count


def merge_shards(run_dir: Path, benchmark, tokenizer, limit: int | None, count: int) -> dict | None:
    """Combine records.shard<k>.jsonl into records.jsonl + metrics.json once every sample is in.

    Returns the metrics, or None (with the number missing printed) while shards are running.
    """
    samples = benchmark.sample_list(tokenizer)
    ids = [s.id for s in (samples if limit is None else samples[:limit])]
    by_id: dict[str, dict] = {}
    sources = [run_dir / "records.jsonl"] + [run_dir / f"records.shard{k}.jsonl" for k in range(count)]
    for path in sources:
        if path.exists():
            for record in RecordFile(path).records:
                by_id.setdefault(record["id"], record)
    missing = [i for i in ids if i not in by_id]
    if missing:
        print(f"[lampe] {len(ids) - len(missing)}/{len(ids)} samples recorded; merge waits for the other shards "
              f"(or run again with shard.merge_only=true once they finish)")
        return None
    ordered = [by_id[i] for i in ids] + [r for i, r in by_id.items() if i not in set(ids)]
    tmp = run_dir / f"records.jsonl.tmp{os.getpid()}"  # shards may merge at once: one temp file each
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered))
    tmp.replace(run_dir / "records.jsonl")  # a superset of what was there: nothing is lost
    metrics = benchmark.summary([by_id[i] for i in ids])
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


# ---- the run --------------------------------------------------------------------------------

def _get_model(model_cfg: dict):
    kwargs = {k: model_cfg.get(k) for k in _LOAD_KEYS}
    if kwargs["device"] is None and kwargs["device_map"] is None and "LOCAL_RANK" in os.environ:
        import torch

        if torch.cuda.is_available():  # one model per GPU under torchrun / accelerate launch
            kwargs["device"] = f"cuda:{os.environ['LOCAL_RANK']}"
    key = json.dumps(kwargs, sort_keys=True)
    if key not in _loaded:
        _loaded.clear()
        name_or_path = kwargs.pop("name_or_path")
        kwargs["dtype"] = kwargs["dtype"] or "auto"
        _loaded[key] = load_model(name_or_path, **kwargs)
    return _loaded[key]


def benchmark_key(cfg: DictConfig) -> str:
    """The benchmark config's file name (passkey, passkey_full, ...): one results folder each."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get().runtime.choices["benchmark"]
    except Exception:  # compose API in tests, or no Hydra at all
        return cfg.benchmark.get("key") or cfg.benchmark.name


def prepare(cfg: DictConfig) -> SimpleNamespace:
    """Everything decided before the model loads: validated parameters, benchmark, run dir."""
    conf = OmegaConf.to_container(cfg, resolve=True)
    options.check_runner_options(conf)
    for module in conf.get("imports") or []:  # modules registering a user's own benchmarks
        importlib.import_module(module)
    model_cfg, method_cfg, bench_cfg = conf["model"], conf["method"], conf["benchmark"]
    bkey = benchmark_key(cfg)
    for option, name in (("model.name", model_cfg.get("name")), ("method", method_cfg.get("name")),
                         ("benchmark", bkey)):
        options.check_path_name(option, name)
    values = method_values(method_cfg, model_cfg)
    options.check_benchmark_options(bkey, bench_cfg)
    try:
        benchmark = build_benchmark(bench_cfg)
    except (ValueError, FileNotFoundError) as err:  # the benchmark's own checks: say which config
        raise type(err)(f"benchmark={bkey}: {err}") from err
    key = results.run_key(model_cfg, {"name": method_cfg["name"], **values}, bench_cfg)
    rid = results.run_id(key)
    path = results.run_dir(conf["results_dir"], model_cfg["name"], method_cfg["name"], bkey, rid)
    options.check_inside(results.results_root(conf["results_dir"]), path)
    stored = {**conf, "method": {"name": method_cfg["name"], **values}, "run_id": rid, "benchmark_key": bkey,
              "generation": dict(GREEDY)}  # how it decodes (not hashed: runs keep their ids)
    stored.pop("hydra", None)
    return SimpleNamespace(conf=conf, values=values, benchmark=benchmark, run_id=rid, run_dir=path,
                           stored=stored, key=key, shard=shard_of(conf.get("shard")))


def _status(path: Path) -> dict:
    status = path / "run.json"
    return json.loads(status.read_text()) if status.exists() else {}


def _claim(plan: SimpleNamespace, rerun: bool) -> str:
    """Create or reuse the run dir; returns 'done', 'resume' or 'new'. Never overwrites silently."""
    path = plan.run_dir
    if path.exists() and rerun:
        if plan.shard[1] > 1:
            raise ValueError(f"rerun=true with {plan.shard[1]} shards would move {path} aside once per process; "
                             f"move it away by hand (or rerun=true in one process first)")
        old = results.move_aside(path)
        print(f"[lampe] rerun=true: moved the previous run to {old}")
    if path.exists():
        config_path = path / "config.yaml"
        if config_path.exists():
            old = yaml.safe_load(config_path.read_text()) or {}
            old_key = results.run_key(old.get("model", {}), old.get("method", {}), old.get("benchmark", {}))
            if old_key != plan.key:
                raise FileExistsError(
                    f"{path} holds a run with another config (hash collision or edited config.yaml); "
                    f"move it away or run with rerun=true"
                )
        status = _status(path)
        if (status.get("status") == "complete" and status.get("limit") == plan.conf.get("limit")
                and (path / "metrics.json").exists()):
            return "done"
        return "resume"
    path.mkdir(parents=True, exist_ok=True)  # shards may race here: same content either way
    if not (path / "config.yaml").exists():
        (path / "config.yaml").write_text(yaml.safe_dump(plan.stored, sort_keys=False))
    return "new"


def run(cfg: DictConfig) -> dict:
    """Run (or find) one model x method x benchmark; returns metrics.json's content."""
    return run_with_dir(cfg)[1]


class ConfigError(ValueError):
    """A bad choice in the config (parameter value, benchmark task, shard): reported without a
    traceback by the command line."""


def run_with_dir(cfg: DictConfig, plan: SimpleNamespace | None = None) -> tuple[Path, dict]:
    """`run`, also returning the run directory (`plan`: this config's `prepare`, already made)."""
    try:
        plan = plan or prepare(cfg)
        if not (plan.conf.get("shard") or {}).get("merge_only"):
            check_samples(plan.benchmark, plan.stored["benchmark_key"], plan.conf["benchmark"], plan.conf["model"],
                          plan.conf.get("limit"))
            check_plan(plan)  # a fitted preset never scores a test sample it was fitted on (evals.held_out)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(str(err)) from err
    return plan.run_dir, _run(plan)


def _run(plan: SimpleNamespace) -> dict:
    """Hold the run's lock for the whole run: one writer per run directory."""
    try:
        root = results.results_root(plan.conf["results_dir"])
        lock = RunLock(plan.run_dir, plan.shard, root).acquire(wait=bool(plan.conf.get("wait")))
    except RunLocked as err:
        raise ConfigError(str(err)) from None
    try:
        return _run_locked(plan)
    finally:
        lock.release()


def _run_locked(plan: SimpleNamespace) -> dict:
    conf = plan.conf
    index, count = plan.shard
    state = _claim(plan, bool(conf.get("rerun")))
    if state == "new":
        try:
            return _run_claimed(plan, state)
        except BaseException:
            _drop_if_empty(plan.run_dir)  # a run that failed before its first record leaves no folder
            raise
    return _run_claimed(plan, state)


def _drop_if_empty(path: Path) -> None:
    if path.is_dir() and {p.name for p in path.iterdir()} <= {"config.yaml"}:
        (path / "config.yaml").unlink(missing_ok=True)
        path.rmdir()


def _run_claimed(plan: SimpleNamespace, state: str) -> dict:
    conf = plan.conf
    index, count = plan.shard
    label = f"{conf['model']['name']} / {conf['method']['name']} / {plan.run_dir.parent.name}"
    if state == "done":
        print(f"[lampe] {label}: finished run found at {plan.run_dir} (rerun=true recomputes it)")
        metrics = json.loads((plan.run_dir / "metrics.json").read_text())
        print_summary(plan.run_dir, metrics)
        return metrics
    print(f"[lampe] {label}: {'resuming' if state == 'resume' else 'new run'} in {plan.run_dir}")

    if (conf.get("shard") or {}).get("merge_only"):
        from lampe import load_tokenizer

        tokenizer = load_tokenizer(conf["model"]["name_or_path"])
        metrics = merge_shards(plan.run_dir, plan.benchmark, tokenizer, conf.get("limit"), count)
        if metrics is None:
            raise RuntimeError(f"{plan.run_dir}: shards incomplete, nothing merged")
        return _finish(plan, metrics, None, {"samples": metrics.get("num_samples")})

    import torch

    from evals.lm import LanguageModel
    from evals.run import run_benchmark
    from lampe import apply_method

    torch.manual_seed(conf.get("seed") or 0)
    if conf.get("threads"):
        torch.set_num_threads(int(conf["threads"]))
    logger = get_logger(conf.get("logger"))
    logger.start(plan.stored, f"{conf['model']['name']}-{conf['method']['name']}-{plan.run_id}",
                 results.results_root(conf["results_dir"]))
    started = time.time()
    model, tokenizer = _get_model(conf["model"])
    per_sample = SampleMethod(conf["method"]["name"], plan.values, conf["model"].get("pretraining_length"))
    apply_method(model, conf["method"]["name"], **per_sample.fixed)
    try:
        estimate = check_fits(model, longest_prompt(conf["benchmark"]), force=bool(conf.get("force")))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if estimate:
        print(f"[lampe] {estimate}")
    lm = LanguageModel(model, tokenizer, max_length=conf["benchmark"].get("max_length"),
                       chat_template=conf["model"].get("chat_template", True))
    per_sample.bind(model, plan.benchmark, lm)  # each sample's own parameters, recorded with it
    loaded = time.time()
    plan.recorded_before = set(RecordFile(plan.run_dir / "records.jsonl").done_ids)  # tokens/s: this process's only
    metrics = run_benchmark(plan.benchmark, lm, plan.run_dir, limit=conf.get("limit"),
                            progress=conf.get("progress", True), shard=(index, count),
                            before_sample=per_sample if per_sample.per_sample else None,
                            after_sample=per_sample.annotate)
    timing = {"load_s": round(loaded - started, 1), "eval_s": round(time.time() - loaded, 1)}
    if count > 1:
        merged = merge_shards(plan.run_dir, plan.benchmark, tokenizer, conf.get("limit"), count)
        if merged is None:
            _write_status(plan, "shard_done", {**timing, "shard": [index, count]})
            logger.finish()
            return metrics
        metrics = merged
    return _finish(plan, metrics, logger, timing)


def _write_status(plan, status: str, extra: dict) -> None:
    from evals.provenance import code_provenance

    info = {"status": status, "limit": plan.conf.get("limit"), "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "code": code_provenance(), **extra}
    (plan.run_dir / "run.json").write_text(json.dumps(info, indent=2))


def _finish(plan, metrics: dict, logger, timing: dict) -> dict:
    records = RecordFile(plan.run_dir / "records.jsonl").records
    before = getattr(plan, "recorded_before", set())
    tokens = sum(int(r.get("prompt_tokens") or 0) for r in records if r.get("id") not in before)
    if "eval_s" in timing:
        timing["prompt_tokens"] = tokens  # evaluated by this process: a resume does not count earlier runs'
    if timing.get("eval_s"):
        timing["prompt_tokens_per_s"] = round(tokens / max(timing["eval_s"], 1e-9), 1)
    _write_status(plan, "complete", timing)
    if logger is not None:
        from evals.tables import summary_frame

        logger.log_metrics(metrics)
        frame = summary_frame(metrics)
        if len(frame):
            logger.log_table("summary", frame)
        heatmap = _heatmap(plan.run_dir, metrics)
        if heatmap is not None:
            logger.log_image("heatmap", heatmap)
        logger.finish()
    print_summary(plan.run_dir, metrics, timing)
    return metrics


def _heatmap(run_dir: Path, metrics: dict) -> Path | None:
    """needle/passkey: the depth x length heatmap next to the records (and to the logger)."""
    if not metrics.get("grid"):
        return None
    try:
        from evals.plots import needle_heatmap
    except ImportError:
        return None
    return needle_heatmap(metrics, run_dir / "heatmap.png", title=f"{run_dir.parts[-4]} / {run_dir.parts[-3]}")


def print_summary(run_dir: Path, metrics: dict, timing: dict | None = None) -> None:
    from evals.tables import summary_frame

    frame = summary_frame(metrics)
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
