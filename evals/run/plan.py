"""A run's plan: everything decided from the composed config before any weight is read, built
once (`make_plan`) and read by every later step (the preflight, the held-out check, the claim of
the run folder, apply_method, the sample loop, the records and config.yaml the tables read).

Order matters for the user: the runner's options, the names that become folders, the model's
options, the method's parameters and the benchmark's options are checked first (a typo fails in
a second, not after a 16 GB download), then the lengths the model or the machine cannot hold,
then the benchmark is built (its data found); nothing is loaded here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from evals.benchmarks.base import Benchmark
from evals.benchmarks.common.greedy import GREEDY
from evals.benchmarks.registry import get_benchmark
from evals.files import safe_io
from evals.files.layout import records_file, results_root, run_dir
from evals.run import length_guard, model_options
from evals.run.config import RunOptions, check_path_name, method_values
from evals.run.identity import run_id, run_key
from evals.run.session import Session
from evals.run.shards import shard_of


@dataclass(frozen=True)
class RunPlan:
    options: RunOptions  # the runner's own (limit, rerun, seed, ...)
    model: dict  # conf/model/<name>.yaml, checked
    method: str
    values: dict  # the method's effective parameters (`auto` / `rule` where set per sample)
    benchmark_key: str  # the benchmark config's name (passkey, passkey_full, ...): one results folder each
    benchmark_options: dict  # every declared option, checked, defaults filled in
    benchmark: Benchmark  # built (its data found); samples come later
    root: Path  # results_dir, resolved once
    run_id: str
    run_dir: Path
    key: dict  # what run_id hashes
    stored: dict  # config.yaml: the resolved config, the method's values, the run id, the decoding
    shard: tuple[int, int]  # (index, count) of this process's samples

    @property
    def max_length(self) -> int | None:
        """Prompt tokens kept (the LanguageModel cuts the middle of a longer prompt)."""
        return self.benchmark_options.get("max_length")

    @property
    def records_path(self) -> Path:
        """This process's records file (records.shard<k>.jsonl while sharded)."""
        return records_file(self.run_dir, self.shard)

    @property
    def label(self) -> str:
        return f"{self.model['name']} / {self.method} / {self.benchmark_key}"


def benchmark_key(cfg: DictConfig) -> str:
    """The benchmark config's file name (passkey, passkey_full, ...): one results folder each."""
    if HydraConfig.initialized():
        return HydraConfig.get().runtime.choices["benchmark"]
    return cfg.benchmark.get("key") or cfg.benchmark.name  # the compose API (tests, the study) or no Hydra


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


def build_benchmark(cls: type[Benchmark], options: dict) -> Benchmark:
    """The benchmark from its checked options. A plug-in that declares none never took
    `max_length` (the runner's before options were declared): it does not get it now either."""
    return cls(**{k: v for k, v in options.items() if cls.options or k != "max_length"})


def make_plan(cfg: DictConfig, session: Session | None = None) -> RunPlan:
    """The plan of one model x method x benchmark run. `session`: a model it already holds is
    judged by the post-load memory guard instead of its config.json."""
    conf = OmegaConf.to_container(cfg, resolve=True)
    options = RunOptions.from_conf(conf)
    import_modules(options.imports)
    model_cfg, method_cfg, bench_cfg = conf["model"], conf["method"], conf["benchmark"]
    bkey = benchmark_key(cfg)
    for option, name in (("model.name", model_cfg.get("name")), ("method", method_cfg.get("name")),
                         ("benchmark", bkey)):
        check_path_name(option, name)
    model_options.check_model_options(model_cfg)
    values = method_values(method_cfg, model_cfg)
    cls = get_benchmark(bench_cfg["name"])
    bench_options = cls.parse_config(bench_cfg)
    shard = shard_of(options.shard)
    loaded = session is not None and session.has_model(model_cfg)
    model_config = None if loaded else model_options.model_config(model_cfg)
    length_guard.check_lengths(model_cfg, method_cfg["name"], bench_options, model_config, options.force)
    try:
        benchmark = build_benchmark(cls, bench_options)
    except (ValueError, FileNotFoundError) as err:  # the benchmark's own checks: say which config
        raise type(err)(f"benchmark={bkey}: {err}") from err
    key = run_key(model_cfg, {"name": method_cfg["name"], **values}, bench_cfg)
    rid = run_id(key)
    root = results_root(options.results_dir)
    path = run_dir(root, model_cfg["name"], method_cfg["name"], bkey, rid)
    safe_io.check_run_folder(root, path)  # no symlink below results_dir, nothing outside it
    stored = {**conf, "method": {"name": method_cfg["name"], **values}, "run_id": rid, "benchmark_key": bkey,
              "generation": dict(GREEDY)}  # how it decodes (not hashed: runs keep their ids)
    stored.pop("hydra", None)
    return RunPlan(options=options, model=model_cfg, method=method_cfg["name"], values=values, benchmark_key=bkey,
                   benchmark_options=bench_options, benchmark=benchmark, root=root, run_id=rid, run_dir=path,
                   key=key, stored=stored, shard=shard)
