"""A fitted preset never scores what it was fitted on.

Each fitted preset has a provenance file, evals/conf/presets/<preset>.yaml (scripts/fit_sigmoid.py
writes it): the values, the split and the runs it was fitted on, the samples whose scores chose it
(ids and content keys: pass keys, needles, RULER values, document hashes), the commit and the
date. A run that scores with a preset (LaMPE's `preset`) on the test split refuses, before the
model loads, every sample the preset has seen: the same id in the same benchmark, or a shared
content key; the error names the preset and the sample. `python -m evals.held_out RESULTS`
audits a results folder: no test record may share a content key with a dev record.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import yaml

from evals.files.paths import CONF_DIR
from evals.run.records import RecordFile

PRESET_DIR = CONF_DIR / "presets"
PASSKEY_TASK = "passkey"


class HeldOutError(ValueError):
    """A test sample that the run's preset was fitted on."""


def provenance_path(preset: str, folder: Path | None = None) -> Path:
    return (folder or PRESET_DIR) / f"{preset}.yaml"


def load_provenance(preset: str, folder: Path | None = None) -> dict | None:
    """The preset's provenance file, or None when it has none."""
    return _load(provenance_path(preset, folder))


@lru_cache(maxsize=None)
def _load(path: Path) -> dict | None:
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else None


def record_content_keys(record: dict) -> list[str]:
    """A record's content keys: stored since splits exist; a passkey record from before names its key."""
    if record.get("content_keys") is not None:
        return list(record["content_keys"])
    if record.get("task") == PASSKEY_TASK and record.get("references"):
        return [f"passkey:{record['references'][0]}"]
    return []


class Seen:
    """What one preset was fitted on: sample ids per benchmark and content keys, with where from."""

    def __init__(self, preset: str, provenance: dict, path: Path):
        self.preset, self.path = preset, path
        self.ids: dict[tuple[str, str], dict] = {}
        self.keys: dict[str, dict] = {}
        for entry in provenance.get("samples") or []:
            self.ids[(entry.get("benchmark"), str(entry["id"]))] = entry
            for key in entry.get("keys") or []:
                self.keys.setdefault(key, entry)

    def why(self, benchmark, sample) -> str | None:
        """How the preset saw this sample (None: it did not)."""
        entry = self.ids.get((benchmark.name, sample.id))
        if entry is not None:
            return f"the same sample id, {entry.get('role', 'fit')} run {entry.get('run', '?')}"
        for key in benchmark.content_keys(sample):
            if key in self.keys:
                entry = self.keys[key]
                return f"content {key} of its sample '{entry['id']}', {entry.get('role', 'fit')} run {entry.get('run', '?')}"
        return None


def guard_for(values: dict, folder: Path | None = None) -> Seen | None:
    """The held-out guard of a run's method values: its preset's provenance, if it has one."""
    preset = values.get("preset")
    if not isinstance(preset, str):
        return None
    provenance = load_provenance(preset, folder)
    return None if provenance is None else Seen(preset, provenance, provenance_path(preset, folder))


def check_sample(guard: Seen | None, benchmark, sample) -> None:
    """Raise HeldOutError when a test sample is one the preset has seen."""
    if guard is None or benchmark.split != "test":
        return
    why = guard.why(benchmark, sample)
    if why is not None:
        raise HeldOutError(
            f"preset '{guard.preset}' was fitted on test sample '{sample.id}' of {benchmark.name} ({why}; "
            f"{guard.path}): it cannot score that sample. Refit the preset on split=dev "
            f"(scripts/fit_sigmoid.py --preset {guard.preset}), or score with another preset")


def check_samples(guard: Seen | None, benchmark, samples) -> None:
    for sample in samples:
        check_sample(guard, benchmark, sample)


def check_plan(values: dict, benchmark, samples) -> None:
    """The runner's check before the model loads: every listed sample of a test run against the
    preset's provenance (`values`: the method's; streamed benchmarks are checked sample by sample
    as they run, lm-eval's own samples are not ours to check)."""
    guard = guard_for(values)
    if guard is None or benchmark.split != "test" or benchmark.lazy_samples or benchmark.has_own_loop:
        return
    check_samples(guard, benchmark, samples())


# ---- audit: no test record shares content with a dev record -------------------------------------

def audit(results_dir: str | Path) -> dict:
    """Content keys shared by dev and test records under `results_dir`, and records without a split."""
    keys: dict[str, dict[str, list[str]]] = {"dev": defaultdict(list), "test": defaultdict(list)}
    counts = {"dev": 0, "test": 0, "unlabelled": 0}
    for path in sorted(Path(results_dir).rglob("records.jsonl")):
        if any(part.startswith(".") for part in path.relative_to(results_dir).parts):
            continue
        for record in RecordFile(path).records:
            split = record.get("split")
            if split not in keys:
                counts["unlabelled"] += 1
                continue
            counts[split] += 1
            for key in record_content_keys(record):
                keys[split][key].append(f"{path.parent}:{record['id']}")
    shared = {key: {"dev": keys["dev"][key], "test": keys["test"][key]} for key in keys["dev"] if key in keys["test"]}
    return {"shared": shared, "unlabelled": counts.pop("unlabelled"), "records": counts}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m evals.held_out RESULTS_DIR  (dev and test records must share no content)")
        return 2
    found = audit(argv[0])
    for key, where in sorted(found["shared"].items()):
        print(f"shared {key}: dev {where['dev'][0]} ... test {where['test'][0]} ...")
    print(f"{len(found['shared'])} content keys shared by dev and test records; {found['unlabelled']} records "
          f"without a split (made before splits existed)")
    return 1 if found["shared"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
