"""`make study` / `python -m evals.study [key=value ...]`: one study config, every method x piece.

A study config (evals/conf/study/<name>.yaml) lists pieces (a benchmark config plus overrides and
a sample count) and methods. Each piece x method is one ordinary runner run, so it is found again
by its config: a killed study continues where it stopped, and finished runs cost nothing. The
model loads once. Before each run the study prints what remains and an ETA: each remaining prompt
costs (base + per_kcontext x its length in thousands) seconds per thousand tokens (prefill dominates,
attention grows with the context), plus, with `decode_per_token`, (base + per_kcontext x length
in thousands) seconds per token of its generation budget (counted in full: an upper bound), scaled
by measured / predicted time of the runs done so far.

Before anything runs the study prints (and writes to <results_dir>/tables/rules.md) the rule table:
each method's published rule and the values it takes at `rule_lengths` (evals/rules_table.py),
and refuses a preset fitted on any of its test samples (evals/held_out.py). `comparisons` declares,
before any result, what each method is compared with (never the column's observed best).
`dry_run=true` prints the plan: per job its samples, tokens and predicted time, per piece the
prompt lengths and the tasks whose prompts sit inside the model's window.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_module
from omegaconf import OmegaConf

from evals.files.layout import records_file, results_root
from evals.files.paths import CONF_DIR
from evals.run import runner
from evals.run.config import method_values
from evals.run.held_out import HeldOutError, check_sample, guard_for
from evals.run.plan import make_plan
from evals.run.records import RecordFile
from evals.run.rules_table import rules_markdown, write_rules
from evals.run.session import Session

STUDY_DIR = CONF_DIR / "study"


@dataclass
class Job:
    piece: str
    method: str
    overrides: list[str]


def load_study(name: str, dotlist: list[str], folder: Path = STUDY_DIR) -> dict:
    """The study config with command-line `key=value` overrides; unknown names list the valid ones."""
    path = folder / f"{name}.yaml"
    if not path.exists():
        valid = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
        raise ValueError(f"Unknown study '{name}'. Available: {valid}")
    study = OmegaConf.merge(OmegaConf.load(path), OmegaConf.from_dotlist(dotlist))
    study = OmegaConf.to_container(study, resolve=True)
    names = [p["name"] for p in study["pieces"]]
    unknown = [p for p in (study.get("only") or []) if p not in names]
    if unknown:
        raise ValueError(f"Invalid study only={unknown}: pieces are {', '.join(names)}")
    scale = study.get("scale")
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
        raise ValueError(f"Invalid study scale={scale!r}: a positive number (1 = the CPU study)")
    known = sorted(p.stem for p in (folder.parent / "method").glob("*.yaml"))
    for where, names in [("methods", study["methods"])] + [
            (f"piece '{p['name']}' methods", p.get("methods") or []) for p in study["pieces"]]:
        unknown = [m for m in names if m not in known]
        if unknown and known:
            raise ValueError(f"Invalid study {where}: {unknown}; methods are {', '.join(known)}")
    comparisons = study.get("comparisons") or {}
    against = comparisons.get("against") or []
    unknown = [m for m in against if m not in study["methods"]]
    if unknown:
        raise ValueError(f"Invalid study comparisons.against={unknown}: compare with methods of the study "
                         f"({', '.join(study['methods'])})")
    if "shard" in study:  # the part's earlier name (before a run's sample shards took the word)
        study.setdefault("part", study.pop("shard"))
    study["part"] = parse_part(study.get("part"))
    return study


def parse_part(value) -> tuple[int, int]:
    """`part=i/n` -> (i, n): this process runs every n-th job from the i-th (two shells on two cores)."""
    if value is None:
        return 0, 1
    if isinstance(value, (list, tuple)):
        value = "/".join(str(v) for v in value)
    try:
        index, count = (int(x) for x in str(value).split("/"))
    except ValueError:
        index = count = -1
    if not 0 <= index < count:
        raise ValueError(f"Invalid study part={value!r}: i/n with 0 <= i < n, e.g. part=0/2 and part=1/2")
    return index, count


def _value(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def jobs(study: dict) -> list[Job]:
    """Every piece x method as runner overrides, in the config's order."""
    found = []
    for piece in study["pieces"]:
        if study.get("only") and piece["name"] not in study["only"]:
            continue
        common = [f"model={study['model']}", f"benchmark={piece['benchmark']}", "logger=none",
                  f"results_dir={study['results_dir']}"]
        if study.get("threads") is not None:
            common.append(f"threads={study['threads']}")
        # model options for every run (e.g. dtype: bfloat16); they are part of each run's id
        common += [f"model.{k}={_value(v)}" for k, v in (study.get("model_set") or {}).items()]
        if study.get("searchpath"):  # extra config folders (a user's own benchmarks or models)
            common.insert(0, f"hydra.searchpath=[{','.join(study['searchpath'])}]")
        common += [f"benchmark.{k}={_value(v)}" for k, v in (piece.get("set") or {}).items()]
        if piece.get("count"):
            count = max(1, math.ceil(piece["count"]["value"] * study["scale"]))
            common.append(f"benchmark.{piece['count']['key']}={count}")
        # a piece may name the methods it needs (the others equal the original model there)
        for method in [m for m in study["methods"] if m in (piece.get("methods") or study["methods"])]:
            overrides = (study.get("method_overrides") or {}).get(method) or {}
            extra = [f"method.{k}={_value(v)}" for k, v in overrides.items()]
            found.append(Job(piece["name"], method, [*common, f"method={method}", *extra]))
    index, count = study.get("part") or (0, 1)
    return found[index::count]


def compose(overrides: list[str]):
    with initialize_config_module("evals.conf", version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def sample_lengths(plan, tokenizer) -> dict[str, int]:
    """id -> prompt length of one prepared run's samples: the tokens the benchmark counted
    (`meta.prompt_tokens`), else its target length (LongBench's `length` is words, not a target:
    skipped), else its tokens; cut to the benchmark's max_length, as the run cuts them."""
    cap = plan.max_length
    words = plan.benchmark.name == "longbench"  # the release's own length field counts words/characters
    found = {}
    for s in plan.benchmark.sample_list(tokenizer):
        n = s.meta.get("prompt_tokens") or (None if words else s.meta.get("length"))
        if not n:
            n = len(tokenizer(s.prompt, add_special_tokens=False)["input_ids"]) + 64  # + chat wrapper
        found[s.id] = min(int(n), int(cap)) if cap else int(n)
    return found


def sample_budgets(plan, tokenizer) -> dict[str, int]:
    """id -> the generation budget (max_new_tokens) of one prepared run's samples."""
    return {s.id: int(s.max_new_tokens) for s in plan.benchmark.sample_list(tokenizer)}


def sample_seconds(length: int, cost: dict, new_tokens: int = 0, decode: dict | None = None) -> float:
    """Predicted seconds of one `length`-token prompt: prefill, per token a fixed part plus one that
    grows with the context (attention), `cost` in seconds per 1000 tokens; and with `decode`
    (seconds per new token: base + per_kcontext x length / 1000) its `new_tokens` budget."""
    seconds = length / 1000 * (float(cost["base"]) + float(cost["per_kcontext"]) * length / 1000)
    if decode and new_tokens:
        seconds += new_tokens * (float(decode["base"]) + float(decode["per_kcontext"]) * length / 1000)
    return seconds


def left_to_run(plan, lengths: dict[str, int], cost: dict, budgets: dict[str, int] | None = None,
                decode: dict | None = None) -> tuple[int, int, float]:
    """(prompt tokens, samples, predicted seconds) not yet recorded in the run's directory."""
    done = RecordFile(records_file(plan.run_dir)).done_ids if plan.run_dir.exists() else set()
    todo = [(i, n) for i, n in lengths.items() if i not in done]
    budgets = budgets or {}
    return (sum(n for _, n in todo), len(todo),
            sum(sample_seconds(n, cost, budgets.get(i, 0), decode) for i, n in todo))


def length_report(piece: str, plan, lengths: dict[str, int], window: int | None, tokenizer) -> str:
    """One line per task of a piece: how many prompts, their median and range in tokens, and whether
    they sit inside the window (a cell that does not test extension) or below 1.5x of it."""
    tasks = {s.id: s.task for s in plan.benchmark.sample_list(tokenizer)}
    by_task: dict[str, list[int]] = {}
    for sid, n in lengths.items():
        by_task.setdefault(tasks.get(sid, piece), []).append(n)
    lines = []
    for task, found in by_task.items():
        found = sorted(found)
        median = found[len(found) // 2] if len(found) % 2 else (found[len(found) // 2 - 1] + found[len(found) // 2]) / 2
        where = ""
        if window:
            if found[-1] <= window:
                where = "  INSIDE the window"
            elif found[0] <= window:
                where = "  partly inside the window"
            elif median < 1.5 * window:
                where = "  past the window, median below 1.5x"
        lines.append(f"[study]   {piece} / {task}: {len(found)} prompts, median {median:,.0f} tokens "
                     f"(range {found[0]:,}-{found[-1]:,}){where}")
    return "\n".join(lines)


def rule_table(study: dict) -> str:
    """The rule table of all the study's methods, every part's (their values as each method's first
    job resolves them)."""
    values, window = {}, 0
    for job in jobs({**study, "part": (0, 1)}):
        if job.method not in values:
            conf = OmegaConf.to_container(compose(job.overrides), resolve=True)
            values[job.method] = method_values(conf["method"], conf["model"])
            window = int(conf["model"]["pretraining_length"])
    lengths = list(study.get("rule_lengths") or sorted({n for p in study["pieces"]
                                                        for n in ((p.get("set") or {}).get("lengths") or [])}))
    return rules_markdown(values, lengths, window)


def other_parts_refusals(study: dict, todo: list[Job], tokenizer, session: Session) -> list[str]:
    """The refusals of the other parts' jobs with a fitted preset: every part stops, not only the
    one that holds the refused job."""
    mine = {(j.piece, j.method) for j in todo}
    others = [j for j in jobs({**study, "part": (0, 1)}) if (j.piece, j.method) not in mine]
    checked, plans = [], []
    for job in others:
        cfg = compose(job.overrides)
        conf = OmegaConf.to_container(cfg, resolve=True)
        if guard_for(method_values(conf["method"], conf["model"])) is None:
            continue  # no fitted preset: nothing to hold out (and no samples to build)
        checked.append(job)
        plans.append(make_plan(cfg, session))
    return held_out_refusals(checked, plans, tokenizer)


def held_out_refusals(todo: list[Job], plans: list, tokenizer) -> list[str]:
    """Every test sample a job's preset was fitted on (evals.run.held_out), as error messages."""
    found = []
    for job, plan in zip(todo, plans):
        guard = guard_for(plan.values)
        if guard is None or plan.benchmark.lazy_samples:
            continue
        for sample in plan.benchmark.sample_list(tokenizer):
            try:
                check_sample(guard, plan.benchmark, sample)
            except HeldOutError as err:
                found.append(f"piece '{job.piece}', method '{job.method}': {err}")
    return found


def _hours(seconds: float) -> str:
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def run_study(study: dict) -> list[Path]:
    """Run (or find) every job, the model loaded once; returns the run directories."""
    session = Session()
    todo = jobs(study)
    cost = study.get("cost_per_ktoken") or {"base": 2.0, "per_kcontext": 0.42}
    decode = study.get("decode_per_token")  # seconds per generated token; null: prefill only
    configs = [compose(job.overrides) for job in todo]  # composed once: checked here, run below
    tokenizer = session.get_tokenizer(OmegaConf.to_container(configs[0].model, resolve=True)) if todo else None
    plans, remaining, lengths, budgets = [], [], {}, {}
    for job, cfg in zip(todo, configs):  # all checked before anything runs; samples listed once per piece
        try:
            plan = make_plan(cfg, session)
        except (ValueError, FileNotFoundError) as err:
            raise ValueError(f"piece '{job.piece}', method '{job.method}': {err}") from err
        if job.piece not in lengths:  # the same samples for every method
            lengths[job.piece] = sample_lengths(plan, tokenizer)
            budgets[job.piece] = sample_budgets(plan, tokenizer)
        else:  # one benchmark object per piece (its config is the piece's): samples built once
            plan = dataclasses.replace(plan, benchmark=next(p for j, p in zip(todo, plans) if j.piece == job.piece).benchmark)
        plans.append(plan)
        # (tokens, samples, seconds) per job
        remaining.append(left_to_run(plan, lengths[job.piece], cost, budgets[job.piece], decode))
    if todo:
        table = rule_table(study)
        written = write_rules(results_root(study["results_dir"]) / "tables" / "rules.md", table)
        print(f"[study] equal footing: each method's published rule and its values per length ({written}):\n"
              f"{table}", flush=True)
    against = (study.get("comparisons") or {}).get("against") or []
    if against:
        print(f"[study] declared comparisons: each method against {', '.join(against)} on the same prompts "
              f"({(study.get('comparisons') or {}).get('adjust', 'holm')}-adjusted per table)", flush=True)
    if study.get("dry_run"):  # the plan only: predicted time per job and in all, prompt lengths per piece
        window = int(configs[0].model.pretraining_length or 0) if todo else None
        for job, (tokens, count, seconds) in zip(todo, remaining):
            print(f"[study] {job.piece} / {job.method}: {count} samples left, {tokens / 1000:.0f}k tokens, "
                  f"~{_hours(seconds)}", flush=True)
        for piece in lengths:
            plan = next(p for j, p in zip(todo, plans) if j.piece == piece)
            print(length_report(piece, plan, lengths[piece], window, tokenizer), flush=True)
        total = sum(r[2] for r in remaining)
        print(f"[study] predicted: {_hours(total)} for these {len(todo)} jobs in one process", flush=True)
    refused = held_out_refusals(todo, plans, tokenizer) + other_parts_refusals(study, todo, tokenizer, session)
    if refused:  # before anything runs: a preset fitted on these test samples scores none of them
        more = f" (and {len(refused) - 1} more refusals)" if len(refused) > 1 else ""
        raise ValueError(refused[0] + more)
    if study.get("dry_run"):
        return []
    correction = spent_s = predicted_s = 0.0  # measured / predicted time of this process's finished runs
    run_dirs = []
    for number, (job, cfg) in enumerate(zip(todo, configs), 1):
        tokens_left, seconds_left = sum(r[0] for r in remaining), sum(r[2] for r in remaining)
        left = [f"{j.piece}/{j.method} ({r[1]})" for j, r in zip(todo, remaining) if r[1]]
        basis = f"measured x{correction:.2f} of the cost model" if correction else "the config's cost model"
        print(f"[study] {number}/{len(todo)} {job.piece} / {job.method}; {len(left)} runs with samples left, "
              f"ETA {_hours(seconds_left * (correction or 1.0))} ({tokens_left / 1000:.0f}k prompt tokens; "
              f"{basis})", flush=True)
        if left:
            print("[study] remaining: " + ", ".join(left[:12]) + (" ..." if len(left) > 12 else ""), flush=True)
        started = time.time()
        run_dir, _ = runner.run_with_dir(cfg, plans[number - 1], session)
        run_dirs.append(run_dir)
        if remaining[number - 1][1]:
            spent_s += time.time() - started
            predicted_s += remaining[number - 1][2]
            correction = spent_s / predicted_s if predicted_s else 0.0
        remaining[number - 1] = (0, 0, 0.0)
    print(f"[study] done: {len(run_dirs)} runs under {study['results_dir']}; tables: make table", flush=True)
    return run_dirs


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = "smollm2"
    if argv and "=" not in argv[0]:
        name = argv.pop(0)
    try:
        run_study(load_study(name, argv))
    except ValueError as err:
        print(f"lampe study: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
