"""Where LongBench's released files are found, and reading them.

One task file (`<task>.jsonl`, `<task>_e.jsonl` for LongBench-E) comes from, in order:
- `data_dir` when it is set (an unzipped data.zip, or fixtures), and nothing else;
- else the checkout's shared folder (`../shared/data/longbench`): the complete release file,
  then `first_records/<task>.jsonl` (one real record: an end-to-end check, not a score);
- else the release archive data.zip from the Hugging Face hub (`data/<task>.jsonl` inside),
  never tried when HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set.
`SHA256SUMS` next to the shared files lists the hashes of all 34 release files, so a copy
obtained elsewhere can be verified (`verify_release`, or `python -m evals.benchmarks.longbench.data DIR`).
"""
from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

from evals.benchmarks.common.sources import Source
from evals.files.paths import resolve_data_path

CHECKOUT = "../shared/data/longbench"  # relative to the repository root (evals.files.paths)
FIRST_RECORDS = "first_records"
SUMS = "SHA256SUMS"
HF_DATASET = "THUDM/LongBench"
DATA_URL = "https://huggingface.co/datasets/THUDM/LongBench/resolve/main/data.zip"


def checkout_dir() -> Path:
    return resolve_data_path(CHECKOUT)


def local_source(name: str, data_dir: str | None) -> Source | None:
    """The file `name`.jsonl in data_dir, else in the checkout (full file, then first record)."""
    if data_dir is not None:
        path = resolve_data_path(data_dir) / f"{name}.jsonl"
        return Source("data_dir", path) if path.is_file() else None
    for kind, path in (("release", checkout_dir() / f"{name}.jsonl"),
                       ("first_record", checkout_dir() / FIRST_RECORDS / f"{name}.jsonl")):
        if path.is_file():
            return Source(kind, path)
    return None


def check_data_dir(data_dir: str) -> Path:
    folder = resolve_data_path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"LongBench data_dir '{data_dir}' ({folder}) is not a directory; it should hold "
                                f"the <task>.jsonl files of the unzipped {DATA_URL}")
    return folder


def hub_sources(names: list[str]) -> dict[str, Source]:
    """data.zip from the hub (cached by huggingface_hub): the files of `names` it holds."""
    from huggingface_hub import hf_hub_download

    archive = Path(hf_hub_download(HF_DATASET, "data.zip", repo_type="dataset"))
    with zipfile.ZipFile(archive) as zipped:
        members = {m.rsplit("/", 1)[-1]: m for m in zipped.namelist() if m.endswith(".jsonl")}
    return {name: Source("hub", archive, members[f"{name}.jsonl"]) for name in names if f"{name}.jsonl" in members}


def how_to_get(missing: list[str]) -> str:
    sums = checkout_dir() / SUMS
    return (f"To get {', '.join(missing)}: download {DATA_URL}, unzip it, check the files with "
            f"`cd data && sha256sum -c --ignore-missing {sums}` (or `python -m evals.benchmarks.longbench.data data`), "
            f"and set benchmark.data_dir=/path/to/data")


def release_hashes(sums: Path | None = None) -> dict[str, str]:
    """file name -> sha256 of the release files, from SHA256SUMS."""
    sums = sums or checkout_dir() / SUMS
    hashes = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            hashes[name.lstrip("*")] = digest
    return hashes


def verify_release(folder: str | Path, sums: Path | None = None) -> dict[str, bool]:
    """`sha256sum -c --ignore-missing`: for each release file present in `folder`, whether it
    matches the release hash."""
    folder = Path(folder)
    result = {}
    for name, digest in release_hashes(sums).items():
        path = folder / name
        if path.is_file():
            result[name] = hashlib.sha256(path.read_bytes()).hexdigest() == digest
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m evals.benchmarks.longbench.data DIR  (checks DIR's release files against SHA256SUMS)")
        return 2
    result = verify_release(argv[0])
    for name, ok in sorted(result.items()):
        print(f"{name}: {'OK' if ok else 'FAILED'}")
    if not result:
        print(f"no LongBench release file in {argv[0]}")
    return 0 if result and all(result.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
