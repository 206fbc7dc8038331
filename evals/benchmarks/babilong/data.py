"""Where BABILong's released samples are found, and reading them.

The release is on the Hugging Face hub, one config per length (0k ... 10M) and one split per task
(qa1 ... qa20), each sample `input` (the facts hidden in PG-19 text), `question` and `target`:
RMT-team/babilong (100 samples per task and length; qa1-qa10 at every length, all 20 at 0k) and
RMT-team/babilong-1k-samples (1000, qa1-qa5, up to 128k). One task at one length comes from:
- `data_dir` when it is set, and nothing else: a local copy of either hub dataset
  (`<length>/<task>-*.parquet` as babilong-1k-samples lays it out, `<task>/<length>-*.parquet` as
  babilong does, `<length>/<task>/*.parquet` or `<task>/<length>/*.parquet` as the hub's parquet
  conversions did), or JSON lines `<length>/<task>.jsonl` (the test fixtures' layout);
- else `datasets.load_dataset(dataset, length, split=task)`, as the official scripts load it
  (offline: from the `datasets` cache, or an error naming benchmark.data_dir).
They are read when the benchmark is built, before any model loads.

Generating samples locally needs the bAbI tasks (booydar/babilong ships them) and PG-19 as
background text (a dataset download); data/create_tasks.py also draws its background sentences
unseeded, so a local run would not reproduce the released samples anyway. Only the release is read.
"""
from __future__ import annotations

from pathlib import Path

from evals.files.jsonl import read_jsonl
from evals.files.paths import resolve_data_path

FIELDS = ("input", "question", "target")
DATASETS = ("RMT-team/babilong", "RMT-team/babilong-1k-samples")  # the released sets (any hub name works)
# (layout, reader) in the order they are looked for under data_dir
PARQUET_LAYOUTS = ("{length}/{task}-*.parquet", "{task}/{length}-*.parquet", "{length}/{task}/*.parquet",
                   "{task}/{length}/*.parquet")
JSONL_LAYOUT = "{length}/{task}.jsonl"


def how_to_get(dataset: str) -> str:
    return (f"download it (`hf download {dataset} --repo-type dataset --local-dir DIR`) and set "
            f"benchmark.data_dir=DIR, or leave benchmark.data_dir=null to load {dataset} with `datasets` "
            f"when online")


def check_rows(rows: list, where: str) -> list[dict]:
    """The rows, each with text fields input, question and target."""
    if not rows:
        raise ValueError(f"{where}: no samples")
    for index, row in enumerate(rows):
        missing = [f for f in FIELDS if not isinstance(row.get(f) if isinstance(row, dict) else None, str)]
        if missing:
            at = row.get("_where", f"{where}[{index}]") if isinstance(row, dict) else f"{where}[{index}]"
            raise ValueError(f"{at}: BABILong sample lacks text field(s) {', '.join(missing)}")
    return rows


def read_parquet(paths: list[Path]) -> list[dict]:
    import pyarrow.parquet as pq

    return [row for path in paths for row in pq.read_table(path).to_pylist()]


def from_data_dir(data_dir: str, task: str, length: str) -> tuple[str, list[dict]] | None:
    """(where, rows) of one task at one length under data_dir, or None when no layout has it."""
    folder = resolve_data_path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"BABILong: benchmark.data_dir={data_dir!r} ({folder}) is not a directory")
    jsonl = folder / JSONL_LAYOUT.format(length=length, task=task)
    if jsonl.is_file():
        return str(jsonl), read_jsonl(jsonl)
    for layout in PARQUET_LAYOUTS:
        shards = sorted(folder.glob(layout.format(length=length, task=task)))
        if shards:
            return str(shards[0].parent), read_parquet(shards)
    return None


def from_hub(dataset: str, task: str, length: str) -> list[dict]:
    """The split through `datasets` (network, or its cache when offline)."""
    from datasets import load_dataset

    return [dict(row) for row in load_dataset(dataset, length, split=task)]


def load(task: str, length: str, data_dir: str | None, dataset: str) -> tuple[str, list[dict]]:
    """(where, checked rows) of one task at one length; FileNotFoundError naming benchmark.data_dir."""
    if data_dir is not None:
        found = from_data_dir(data_dir, task, length)
        if found is None:
            layouts = ", ".join((JSONL_LAYOUT, *PARQUET_LAYOUTS)).format(length=length, task=task)
            raise FileNotFoundError(f"BABILong: no {task} at {length} under benchmark.data_dir={data_dir!r} "
                                    f"(looked for {layouts}). To get the release: {how_to_get(dataset)}")
        where, rows = found
        return where, check_rows(rows, where)
    try:
        rows = from_hub(dataset, task, length)
    except Exception as err:  # offline and not cached, no network, no such split: say which
        raise FileNotFoundError(f"BABILong: benchmark.data_dir is not set and {dataset} ({length}, {task}) could "
                                f"not be loaded ({type(err).__name__}: {err}). To get it: {how_to_get(dataset)}"
                                ) from None
    where = f"{dataset}:{length}:{task}"
    return where, check_rows(rows, where)
