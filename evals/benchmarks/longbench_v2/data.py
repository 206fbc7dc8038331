"""Where LongBench v2's released data.json is found, and reading it.

The release is one JSON file, a list of 503 records (THUDM/LongBench-v2 on the Hugging Face hub,
`data.json`; pred.py:127 reads the same records through `datasets`). It comes from:
- `data_dir` when it is set: a folder holding data.json (or the path of the file itself), and
  nothing else;
- else the hub (`huggingface_hub`, cached); offline it answers from its cache or not at all.
Either way it is read when the benchmark is built, before any model loads, and a missing file
is an error naming `benchmark.data_dir`.
"""
from __future__ import annotations

import json
from pathlib import Path

from evals.files.paths import resolve_data_path

HF_DATASET = "THUDM/LongBench-v2"
DATA_FILE = "data.json"
DATA_URL = f"https://huggingface.co/datasets/{HF_DATASET}/resolve/main/{DATA_FILE}"
# the released record (README "Data Format"); pred.py:128 keeps exactly these fields
FIELDS = ("_id", "domain", "sub_domain", "difficulty", "length", "question", "choice_A", "choice_B", "choice_C",
          "choice_D", "answer", "context")
ANSWERS = ("A", "B", "C", "D")
HOW_TO_GET = (f"download {DATA_URL} and set benchmark.data_dir=/folder/with/it (or the file's path), or let "
              f"benchmark.data_dir=null fetch it from the hub ({HF_DATASET}) when online")


def locate(data_dir: str | None) -> tuple[str, Path]:
    """(where it came from, the path of data.json): data_dir, else the hub."""
    if data_dir is not None:
        path = resolve_data_path(data_dir)
        if path.is_dir():
            path = path / DATA_FILE
        if not path.is_file():
            raise FileNotFoundError(f"LongBench v2: benchmark.data_dir={data_dir!r}: no {DATA_FILE} at {path}. "
                                    f"To get it: {HOW_TO_GET}")
        return "data_dir", path
    from huggingface_hub import hf_hub_download

    try:
        return "hub", Path(hf_hub_download(HF_DATASET, DATA_FILE, repo_type="dataset"))
    except Exception as err:  # offline and not cached, no network, no access: the message says which
        raise FileNotFoundError(f"LongBench v2: benchmark.data_dir is not set and the hub's {HF_DATASET} "
                                f"{DATA_FILE} could not be fetched ({type(err).__name__}: {err}). To get it: "
                                f"{HOW_TO_GET}") from None


def check_record(record, where: str) -> dict:
    """The record if it has every released field, as text, and an answer among A-D."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [field for field in FIELDS if field not in record]
    if missing:
        raise ValueError(f"{where}: LongBench v2 record lacks field(s) {', '.join(missing)}")
    not_text = [field for field in FIELDS if not isinstance(record[field], str)]
    if not_text:
        raise ValueError(f"{where}: LongBench v2 field(s) {', '.join(not_text)} must be text")
    if record["answer"] not in ANSWERS:
        raise ValueError(f"{where}: answer {record['answer']!r} is not one of {', '.join(ANSWERS)}")
    return record


def read(path: Path) -> list[dict]:
    """The records of data.json, each checked (a bad one is named by its index and _id)."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(records, list) or not records:
        raise ValueError(f"{path}: expected a non-empty JSON list of records, as the release has")
    return [check_record(r, f"{path}[{i}]" + (f" (_id {r.get('_id')})" if isinstance(r, dict) else ""))
            for i, r in enumerate(records)]
