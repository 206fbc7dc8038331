"""Sample shards: one run's samples split over processes (GPUs, Slurm tasks), each appending to
records.shard<k>.jsonl, merged into records.jsonl and metrics.json once every sample is in.

A shard takes every n-th sample from the k-th (`evals.run.loop`). How many shards and which one
this process is comes from the config, or from the launcher that started it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from evals.files import safe_io
from evals.files.layout import records_file
from evals.run.records import RecordFile
from evals.run.sample_method import AUTO

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
    sources = [records_file(run_dir)] + [records_file(run_dir, (k, count)) for k in range(count)]
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
