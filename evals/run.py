"""Run one benchmark: every sample not yet recorded, with progress, then metrics.json."""
from __future__ import annotations

import json
import time
from pathlib import Path

from tqdm.auto import tqdm

from evals.base import Benchmark
from evals.records import RecordFile


def run_benchmark(benchmark: Benchmark, lm, out_dir: str | Path, *, limit: int | None = None,
                  progress: bool = True, shard: tuple[int, int] | None = None) -> dict:
    """Evaluate `benchmark` with `lm`, appending to out_dir/records.jsonl; returns the metrics.

    `shard=(k, n)` with n > 1 takes every n-th sample from the k-th and appends to
    records.shard<k>.jsonl; it returns that shard's metrics and leaves metrics.json to the merge
    (evals.runner.merge_shards).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index, count = shard or (0, 1)
    records = RecordFile(out_dir / ("records.jsonl" if count == 1 else f"records.shard{index}.jsonl"))
    samples = list(benchmark.samples(lm.tokenizer))
    if limit is not None:
        samples = samples[:limit]
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise ValueError(f"benchmark '{benchmark.name}' produced duplicate sample ids")
    samples = samples[index::count]
    ids = ids[index::count]
    done = records.done_ids
    todo = [s for s in samples if s.id not in done]
    bar = tqdm(total=len(samples), initial=len(samples) - len(todo), disable=not progress, unit="sample",
               desc=benchmark.name if count == 1 else f"{benchmark.name} [shard {index}/{count}]")
    tokens, start = 0, time.time()
    for sample in todo:
        record = benchmark.evaluate(sample, lm)
        records.append(record)
        tokens += int(record.get("prompt_tokens") or 0)
        bar.set_postfix(tok_s=f"{tokens / max(time.time() - start, 1e-9):.0f}")
        bar.update(1)
    bar.close()
    wanted = set(ids)
    metrics = benchmark.summarize([r for r in records.records if r["id"] in wanted])
    if count == 1:
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
