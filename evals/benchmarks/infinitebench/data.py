"""Where InfiniteBench's released task files (`<task>.jsonl`) are found, before any model loads.

One file per task, from `data_dir` when it is set (the folder scripts/download_dataset.sh fills,
or fixtures) and nothing else; else from the Hugging Face hub dataset xinrongzhang2022/InfiniteBench
(huggingface_hub, cached), where a run with HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set only reads
the local cache. A task without data gets a message naming `benchmark.data_dir` and the download.
"""
from __future__ import annotations

from pathlib import Path

from evals.benchmarks.common.sources import (  # one task file (kind: data_dir or hub); the HF offline flags
    Source,
    offline,
)
from evals.files.paths import resolve_data_path

HF_DATASET = "xinrongzhang2022/InfiniteBench"
URL = "https://huggingface.co/datasets/xinrongzhang2022/InfiniteBench/resolve/main/{task}.jsonl"


def check_data_dir(data_dir: str) -> Path:
    folder = resolve_data_path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"InfiniteBench data_dir {data_dir!r} ({folder}) is not a directory; it should "
                                f"hold the released <task>.jsonl files ({URL.format(task='<task>')})")
    return folder


def local_source(task: str, data_dir: str) -> Source | None:
    path = check_data_dir(data_dir) / f"{task}.jsonl"
    return Source("data_dir", path) if path.is_file() else None


def hub_source(task: str) -> tuple[Source | None, str]:
    """The task's file from the hub (offline: the local cache only), or None and why not."""
    try:
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(HF_DATASET, f"{task}.jsonl", repo_type="dataset", local_files_only=offline())
    except Exception as err:  # no network, not cached, no access: the message says which
        why = "offline mode is set and it is not in the local cache" if offline() else (
            f"it could not be fetched ({type(err).__name__}: {str(err).splitlines()[0][:160]})")
        return None, why
    return Source("hub", Path(path)), ""


def how_to_get(tasks: list[str]) -> str:
    return (f"To get {', '.join(tasks)}: download the files ({URL.format(task='<task>')}, or OpenBMB/InfiniteBench's "
            f"scripts/download_dataset.sh) and set benchmark.data_dir=/path/to/folder")
