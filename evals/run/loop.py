"""Run one benchmark: every sample not yet recorded, with progress, then metrics.json."""
from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

from tqdm.auto import tqdm

from evals.benchmarks.base import Benchmark
from evals.files.layout import METRICS, records_file
from evals.files.safe_io import write_atomic
from evals.run.records import RecordFile


def run_benchmark(benchmark: Benchmark, lm, out_dir: str | Path, *, limit: int | None = None,
                  progress: bool = True, shard: tuple[int, int] | None = None, before_sample=None,
                  records: RecordFile | None = None, after_sample=None) -> dict:
    """Evaluate `benchmark` with `lm`, appending to out_dir/records.jsonl; returns the metrics.
    The model's decoding settings (LanguageModel.generation_settings) go to out_dir/generation.json.

    `shard=(k, n)` with n > 1 takes every n-th sample from the k-th and appends to
    records.shard<k>.jsonl; it returns that shard's metrics and leaves metrics.json to the merge
    (evals.run.shards.merge_shards). `before_sample(sample)` runs before each evaluated sample
    (`method.factor=auto` sets the method's factor from the sample's length there). `records`: the
    records file's writer when the caller already holds it (the runner takes it with the run).
    `after_sample(sample, record)` returns the record to write (the runner adds the split and the
    method parameters that applied). Every file is written atomically (`evals.files.safe_io`).
    """
    if benchmark.has_own_loop:  # a benchmark driven by another harness (lm-eval)
        if before_sample is not None:
            raise ValueError(f"benchmark '{benchmark.name}' runs its own loop: method.factor=auto is not supported")
        return benchmark.run_own_loop(lm, Path(out_dir), limit=limit, progress=progress, shard=shard)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = getattr(lm, "generation_settings", None)
    if callable(settings):  # the decoding every sample used, next to the run's config
        write_atomic(out_dir / "generation.json", json.dumps(settings(), indent=2))
    index, count = shard or (0, 1)
    own = records is None
    if own:
        records = RecordFile.writer(records_file(out_dir, (index, count)))
    try:
        return _evaluate_all(benchmark, lm, out_dir, records, limit, progress, (index, count), before_sample,
                             after_sample)
    finally:
        if own:
            records.close()


def _evaluate_all(benchmark, lm, out_dir: Path, records: RecordFile, limit, progress, shard, before_sample,
                  after_sample) -> dict:
    index, count = shard
    done = records.done_ids
    if benchmark.lazy_samples:  # e.g. a full RULER preset: tens of thousands of long prompts
        samples = itertools.islice(benchmark.samples(lm.tokenizer), limit)
        total = benchmark.sample_count()
    else:  # listed (once, shared with the preflight): the total is known up front for the ETA
        samples = benchmark.sample_list(lm.tokenizer)[:limit]
        total = len(samples)
    if total is not None:
        total = len(range(index, min(total, limit if limit is not None else total), count))
    bar = tqdm(total=total, disable=not progress, unit="sample",
               desc=benchmark.name if count == 1 else f"{benchmark.name} [shard {index}/{count}]")
    seen: set[str] = set()
    ids: list[str] = []
    tokens, start = 0, time.time()
    for position, sample in enumerate(samples):
        if sample.id in seen:
            raise ValueError(f"benchmark '{benchmark.name}' produced duplicate sample id '{sample.id}'")
        seen.add(sample.id)
        if position % count != index:
            continue
        ids.append(sample.id)
        if sample.id not in done:
            if before_sample is not None:
                before_sample(sample)
            record = benchmark.evaluate(sample, lm)
            if after_sample is not None:
                record = after_sample(sample, record)
            records.append(record)
            tokens += int(record.get("prompt_tokens") or 0)
            bar.set_postfix(tok_s=f"{tokens / max(time.time() - start, 1e-9):.0f}")
        bar.update(1)
    bar.close()
    wanted = set(ids)
    metrics = benchmark.summary([r for r in records.records if r["id"] in wanted])
    if count == 1:
        write_atomic(out_dir / METRICS, json.dumps(metrics, indent=2))
    return metrics
