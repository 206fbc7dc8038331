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

from evals.benchmarks.common.greedy import GREEDY
from evals.benchmarks.registry import get_benchmark
from evals.files import safe_io
from evals.report import runs as results
from evals.run import config as options
from evals.run import length_guard, model_options
from evals.run.held_out import check_plan
from evals.run.lock import RunLock, RunLocked
from evals.run.loggers import get_logger
from evals.run.memory_guard import check_fits, longest_prompt
from evals.run.preflight import check_samples
from evals.run.records import DuplicateRecord, RecordFile, RecordsBusy
from evals.run.sample_method import AUTO, RULE_KEY, SampleMethod, auto_params
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
    auto = auto_params(method_cfg)  # `auto` / rule=published: set per sample by the method's rule (evals.run.sample_method)
    rule = method_cfg.get(RULE_KEY)
    given = {k: v for k, v in method_cfg.items() if k not in ("name", RULE_KEY) and v is not None and k not in auto}
    defaults = {k: v for k, v in ((model_cfg.get("method_defaults") or {}).get(name) or {}).items() if k not in auto}
    merged = cls.merge_defaults(defaults, given)  # the method knows which of its parameters exclude each other
    accepts = {p.name for p in cls.params}
    if "pretraining_length" in accepts and merged.get("pretraining_length") is None:
        merged["pretraining_length"] = model_cfg.get("pretraining_length")
    for key in auto:
        merged.pop(key, None)
    if auto and model_cfg.get("pretraining_length") is None:
        raise ValueError(f"method.{sorted(auto)[0]}=auto scales by sample length / model.pretraining_length: set "
                         "model.pretraining_length (the model's trained window in tokens)")
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

# Launchers that start one process per shard and say so: their variables are read unasked.
LAUNCHED = (("torchrun / accelerate launch", "TORCHELASTIC_RUN_ID", "RANK", "WORLD_SIZE"),)
# Read only with shard=auto: a Slurm allocation or an MPI job may hold one single-process run.
ON_REQUEST = (("Slurm", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_NTASKS"),
              ("mpirun", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"))


def _from_env(launchers, env) -> tuple[int, int] | None:
    for name, marker, index, count in launchers:
        if marker in env and index in env and count in env:
            try:
                return int(env[index]), int(env[count])
            except ValueError:
                raise ValueError(f"{name}: {index}={env[index]!r} / {count}={env[count]!r} are not integers") from None
    return None


def shard_of(shard_cfg: dict | str | None) -> tuple[int, int]:
    """(index, count): the config's; else torchrun's / accelerate's RANK and WORLD_SIZE when they
    launched this process; with shard=auto (or shard.count=auto) also Slurm's or MPI's task
    variables. A stray SLURM_* environment never shards a run by itself."""
    env = os.environ
    if shard_cfg == AUTO or (isinstance(shard_cfg, dict) and AUTO in (shard_cfg.get("count"), shard_cfg.get("index"))):
        found = _from_env(LAUNCHED + ON_REQUEST, env) or (0, 1)
        index, count = found
    else:
        shard_cfg = shard_cfg or {}
        launched = _from_env(LAUNCHED, env)
        index, count = shard_cfg.get("index"), shard_cfg.get("count")
        if count is None and index is None:
            index, count = launched or (0, 1)
        elif count is None:
            count = launched[1] if launched else 1
        elif index is None:
            if launched is None and count > 1:
                raise ValueError(f"shard.count={count} needs shard.index (0 to {count - 1}), or a launcher "
                                 f"(torchrun, accelerate launch) or shard=auto to take it from the environment")
            index = launched[0] if launched else 0
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
    # shards may merge at once: each writes its own temp file, and the content is the same
    safe_io.write_atomic(run_dir / "records.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered))
    metrics = benchmark.summary([by_id[i] for i in ids])
    safe_io.write_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


# ---- the run --------------------------------------------------------------------------------

def _load_key(model_cfg: dict) -> tuple[str, dict]:
    kwargs = {k: model_cfg.get(k) for k in _LOAD_KEYS}
    if kwargs["device"] is None and kwargs["device_map"] is None and "LOCAL_RANK" in os.environ:
        import torch

        if torch.cuda.is_available():  # one model per GPU under torchrun / accelerate launch
            kwargs["device"] = f"cuda:{os.environ['LOCAL_RANK']}"
    return json.dumps(kwargs, sort_keys=True), kwargs


def _get_model(model_cfg: dict):
    key, kwargs = _load_key(model_cfg)
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


def import_modules(modules: list[str]) -> None:
    """`imports=[...]`: the user's modules (their benchmarks and methods register on import)."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name and (module == err.name or module.startswith(err.name + ".")):
                raise ValueError(f"Invalid imports: no module named {module!r} (is its folder on PYTHONPATH, or "
                                 f"the package installed?)") from None
            raise ValueError(f"Invalid imports: importing {module!r} failed: {err}") from None
        except Exception as err:  # noqa: BLE001 - the user's module: its error, named
            raise ValueError(f"Invalid imports: importing {module!r} failed: {type(err).__name__}: {err}") from None


def prepare(cfg: DictConfig) -> SimpleNamespace:
    """Everything decided before the model loads: validated options and parameters, the model's
    config, the length guard, the benchmark and the run dir. Nothing is built or loaded yet."""
    conf = OmegaConf.to_container(cfg, resolve=True)
    options.check_runner_options(conf)
    import_modules(conf.get("imports") or [])
    model_cfg, method_cfg, bench_cfg = conf["model"], conf["method"], conf["benchmark"]
    bkey = benchmark_key(cfg)
    for option, name in (("model.name", model_cfg.get("name")), ("method", method_cfg.get("name")),
                         ("benchmark", bkey)):
        options.check_path_name(option, name)
    model_options.check_model_options(model_cfg)
    values = method_values(method_cfg, model_cfg)
    options.check_benchmark_options(bkey, bench_cfg)
    shard = shard_of(conf.get("shard"))
    loaded = _load_key(model_cfg)[0] in _loaded  # a multirun's model: the post-load guard judges its memory
    model_config = None if loaded else model_options.model_config(model_cfg)
    guard = length_guard.check_lengths(model_cfg, method_cfg["name"], bench_cfg, model_config, bool(conf.get("force")))
    try:
        benchmark = build_benchmark(bench_cfg)
    except (ValueError, FileNotFoundError) as err:  # the benchmark's own checks: say which config
        raise type(err)(f"benchmark={bkey}: {err}") from err
    key = results.run_key(model_cfg, {"name": method_cfg["name"], **values}, bench_cfg)
    rid = results.run_id(key)
    path = results.run_dir(conf["results_dir"], model_cfg["name"], method_cfg["name"], bkey, rid)
    root = results.results_root(conf["results_dir"])
    safe_io.check_run_folder(root, path)  # no symlink below results_dir, nothing outside it
    stored = {**conf, "method": {"name": method_cfg["name"], **values}, "run_id": rid, "benchmark_key": bkey,
              "generation": dict(GREEDY)}  # how it decodes (not hashed: runs keep their ids)
    stored.pop("hydra", None)
    return SimpleNamespace(conf=conf, values=values, benchmark=benchmark, run_id=rid, run_dir=path, root=root,
                           stored=stored, key=key, shard=shard, guard=guard)


def read_json(path: Path) -> dict | None:
    """A JSON object file, or None when it is missing, torn, not JSON or not an object."""
    try:
        value = json.loads(safe_io.read_text(path))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _records_path(plan: SimpleNamespace) -> Path:
    index, count = plan.shard
    return plan.run_dir / ("records.jsonl" if count == 1 else f"records.shard{index}.jsonl")


def _writer(plan: SimpleNamespace) -> RecordFile:
    """This process's records file, locked for the whole run (refused while another process holds it)."""
    try:
        return RecordFile.writer(_records_path(plan))
    except (RecordsBusy, DuplicateRecord, ValueError) as err:  # busy, or two writers' leftovers: named
        raise ConfigError(str(err)) from None


def _claim(plan: SimpleNamespace, rerun: bool) -> tuple[str, RecordFile | None]:
    """Create or reuse the run dir: ('done', None), ('resume', writer) or ('new', writer).

    The writer holds the records file's lock from here to the end of the run. Never overwrites
    silently; refuses a symlinked folder or file, and a smaller `limit` than a finished run's."""
    path = plan.run_dir
    merge_only = _merge_only(plan)
    safe_io.check_run_folder(plan.root, path)
    if path.exists() and rerun:
        if plan.shard[1] > 1:
            raise ValueError(f"rerun=true with {plan.shard[1]} shards would move {path} aside once per process; "
                             f"move it away by hand (or rerun=true in one process first)")
        held = _writer(plan)  # another live writer refuses the move
        try:
            old = results.move_aside(path)
        finally:
            held.close()
        print(f"[lampe] rerun=true: moved the previous run to {old}")
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)  # shards may race here: same content either way
        writer = None if merge_only else _writer(plan)
        if not (path / "config.yaml").exists():
            safe_io.write_atomic(path / "config.yaml", yaml.safe_dump(plan.stored, sort_keys=False))
        return "new", writer
    writer = None if merge_only else _writer(plan)
    try:
        if plan.shard[1] == 1 and writer is not None:
            safe_io.remove_stale_temps(path)  # a killed writer's; we alone write here now
        _check_config(plan, path)
        status, metrics = read_json(path / "run.json") or {}, read_json(path / "metrics.json")
        if status.get("status") == "complete" and metrics is not None:
            limit, done = plan.conf.get("limit"), metrics.get("num_samples")
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


def _check_config(plan: SimpleNamespace, path: Path) -> None:
    """The folder's config.yaml must be this config's (a hash collision or an edited file is refused)."""
    config_path = path / "config.yaml"
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
    old_key = results.run_key(old.get("model") or {}, old.get("method") or {}, old.get("benchmark") or {})
    if old_key != plan.key:
        raise FileExistsError(
            f"{path} holds a run with another config (hash collision or edited config.yaml); "
            f"move it away or run with rerun=true"
        )


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
        if not _merge_only(plan):
            check_samples(plan.benchmark, plan.stored["benchmark_key"], plan.conf["benchmark"], plan.conf["model"],
                          plan.conf.get("limit"))
            check_plan(plan)  # a fitted preset never scores a test sample it was fitted on (evals.run.held_out)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(str(err)) from err
    return plan.run_dir, _run(plan)


def _merge_only(plan: SimpleNamespace) -> bool:
    shard = plan.conf.get("shard")
    return isinstance(shard, dict) and bool(shard.get("merge_only"))


def _not_writable(err: OSError, plan: SimpleNamespace) -> ConfigError:
    return ConfigError(f"results_dir={plan.conf['results_dir']!r} cannot be written ({plan.root}: "
                       f"{err.strerror or err}); choose a writable results_dir")


def _run(plan: SimpleNamespace) -> dict:
    """Hold the run's lock for the whole run: one writer per run directory."""
    try:
        lock = RunLock(plan.run_dir, plan.shard, plan.root).acquire(wait=bool(plan.conf.get("wait")))
    except RunLocked as err:
        raise ConfigError(str(err)) from None
    except safe_io.UnsafePath as err:
        raise ConfigError(str(err)) from None
    except OSError as err:
        raise _not_writable(err, plan) from None
    try:
        return _run_locked(plan)
    finally:
        lock.release()


def _run_locked(plan: SimpleNamespace) -> dict:
    existed = plan.run_dir.exists()
    try:
        state, writer = _claim(plan, bool(plan.conf.get("rerun")))
    except (safe_io.UnsafePath, FileExistsError) as err:
        raise ConfigError(str(err)) from None
    except OSError as err:
        if not existed and plan.shard[1] == 1:
            _drop_if_empty(plan.run_dir, plan.root)
        raise _not_writable(err, plan) from None
    try:
        return _run_claimed(plan, state, writer)
    except BaseException:
        if writer is not None:
            writer.close()
        if state == "new" and plan.shard[1] == 1:
            _drop_if_empty(plan.run_dir, plan.root)  # a run that failed before its first record leaves no folder
        raise
    finally:
        if writer is not None:
            writer.close()


DROPPABLE = ("config.yaml", "generation.json")  # what a run writes before its first record


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


def _summarize_recorded(plan: SimpleNamespace, writer: RecordFile) -> dict | None:
    """Metrics from the records alone when every sample this run takes is recorded (a finished
    run whose metrics.json or run.json is torn): no model is loaded. None otherwise."""
    from evals.run.preflight import cached_tokenizer

    if plan.shard[1] > 1 or plan.benchmark.lazy_samples or getattr(plan.benchmark, "run", None) is not None:
        return None
    done = writer.done_ids
    if not done:
        return None
    tokenizer = cached_tokenizer(plan.conf["model"])
    ids = [s.id for s in plan.benchmark.sample_list(tokenizer)[:plan.conf.get("limit")]]
    if not ids or any(i not in done for i in ids):
        return None
    wanted = set(ids)
    metrics = plan.benchmark.summary([r for r in writer.records if r["id"] in wanted])
    safe_io.write_atomic(plan.run_dir / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


def _run_claimed(plan: SimpleNamespace, state: str, writer: RecordFile | None) -> dict:
    conf = plan.conf
    index, count = plan.shard
    label = f"{conf['model']['name']} / {conf['method']['name']} / {plan.run_dir.parent.name}"
    if state == "done":
        print(f"[lampe] {label}: finished run found at {plan.run_dir} (rerun=true recomputes it)")
        metrics = read_json(plan.run_dir / "metrics.json")
        print_summary(plan.run_dir, metrics)
        return metrics
    print(f"[lampe] {label}: {'resuming' if state == 'resume' else 'new run'} in {plan.run_dir}")

    if _merge_only(plan):
        from lampe import load_tokenizer

        tokenizer = load_tokenizer(conf["model"]["name_or_path"])
        metrics = merge_shards(plan.run_dir, plan.benchmark, tokenizer, conf.get("limit"), count)
        if metrics is None:
            raise RuntimeError(f"{plan.run_dir}: shards incomplete, nothing merged")
        return _finish(plan, metrics, None, {"samples": metrics.get("num_samples")})
    if state == "resume":
        metrics = _summarize_recorded(plan, writer)
        if metrics is not None:
            print(f"[lampe] every sample is recorded: metrics recomputed from {writer.path.name}, no model loaded")
            return _finish(plan, metrics, None, {"samples": metrics.get("num_samples")})

    import torch

    from evals.benchmarks.common.lm import LanguageModel
    from evals.run.loop import run_benchmark
    from lampe import apply_method

    torch.manual_seed(conf.get("seed") or 0)
    if conf.get("threads"):
        torch.set_num_threads(int(conf["threads"]))
    logger = get_logger(conf.get("logger"))
    logger.start(plan.stored, f"{conf['model']['name']}-{conf['method']['name']}-{plan.run_id}", plan.root)
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
    plan.recorded_before = set(writer.done_ids)  # tokens/s: this process's only
    metrics = run_benchmark(plan.benchmark, lm, plan.run_dir, limit=conf.get("limit"),
                            progress=conf.get("progress", True), shard=(index, count),
                            before_sample=per_sample if per_sample.per_sample else None,
                            after_sample=per_sample.annotate, records=writer)
    timing = {"load_s": round(loaded - started, 1), "eval_s": round(time.time() - loaded, 1)}
    if count > 1:
        merged = merge_shards(plan.run_dir, plan.benchmark, tokenizer, conf.get("limit"), count)
        if merged is None:
            _write_status(plan, "shard_done", {**timing, "shard": [index, count]})
            logger.finish()
            print(f"[lampe] shard {index}/{count} finished its {metrics.get('num_samples')} samples "
                  f"({_records_path(plan).name}); the run's metrics.json waits for the merge, which the last shard "
                  f"to finish writes (or: shard.count={count} shard.merge_only=true once all are done)")
            return metrics
        metrics = merged
    return _finish(plan, metrics, logger, timing)


def _write_status(plan, status: str, extra: dict) -> None:
    from evals.run.provenance import code_provenance

    info = {"status": status, "limit": plan.conf.get("limit"), "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "code": code_provenance(), **extra}
    safe_io.write_atomic(plan.run_dir / "run.json", json.dumps(info, indent=2))


def _finish(plan, metrics: dict, logger, timing: dict) -> dict:
    """run.json says complete last: after metrics.json and the heatmap are whole on disk."""
    records = RecordFile(plan.run_dir / "records.jsonl").records
    before = getattr(plan, "recorded_before", set())
    tokens = sum(int(r.get("prompt_tokens") or 0) for r in records if r.get("id") not in before)
    if "eval_s" in timing:
        timing["prompt_tokens"] = tokens  # evaluated by this process: a resume does not count earlier runs'
    if timing.get("eval_s"):
        timing["prompt_tokens_per_s"] = round(tokens / max(timing["eval_s"], 1e-9), 1)
    heatmap = _heatmap(plan.run_dir, metrics)
    _write_status(plan, "complete", timing)
    if logger is not None:
        from evals.report.tables import summary_frame

        logger.log_metrics(metrics)
        frame = summary_frame(metrics)
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
    try:
        from evals.report.plots import needle_heatmap
    except ImportError:
        return None
    return needle_heatmap(metrics, run_dir / "heatmap.png", title=f"{run_dir.parts[-4]} / {run_dir.parts[-3]}")


def print_summary(run_dir: Path, metrics: dict, timing: dict | None = None) -> None:
    from evals.report.tables import summary_frame

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
