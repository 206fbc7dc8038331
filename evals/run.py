"""Run one benchmark: every sample not yet recorded, with progress, then metrics.json."""
from __future__ import annotations

import json
import time
from pathlib import Path

from tqdm.auto import tqdm

from evals.base import Benchmark
from evals.records import RecordFile


def run_benchmark(benchmark: Benchmark, lm, out_dir: str | Path, *, limit: int | None = None,
                  progress: bool = True) -> dict:
    """Evaluate `benchmark` with `lm`, appending to out_dir/records.jsonl; returns the metrics."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = RecordFile(out_dir / "records.jsonl")
    samples = list(benchmark.samples(lm.tokenizer))
    if limit is not None:
        samples = samples[:limit]
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise ValueError(f"benchmark '{benchmark.name}' produced duplicate sample ids")
    done = records.done_ids
    todo = [s for s in samples if s.id not in done]
    bar = tqdm(total=len(samples), initial=len(samples) - len(todo), desc=benchmark.name, disable=not progress,
               unit="sample")
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
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
