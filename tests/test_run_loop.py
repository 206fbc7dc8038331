"""evals.run.loop.run_benchmark: streaming samples, limits, duplicate ids, resume."""
import json

import pytest

from evals.benchmarks.base import Benchmark, Sample
from evals.run.loop import run_benchmark


class Counting(Benchmark):
    name = "counting"
    lazy_samples = True

    def __init__(self, n=10, duplicate=False):
        super().__init__()
        self.n, self.duplicate, self.built = n, duplicate, 0

    def sample_count(self):
        return self.n

    def samples(self, tokenizer):
        for index in range(self.n):
            self.built += 1
            yield Sample(id="same" if self.duplicate else f"s{index}", task="t", prompt=str(index),
                         references=[str(index)], max_new_tokens=1)

    def evaluate(self, sample, lm):
        return {"id": sample.id, "task": sample.task, "prompt_tokens": 1, "prediction": sample.prompt,
                "references": sample.references, "scores": {"match": float(sample.prompt == "3")}}


class Echo:
    tokenizer = None


def test_lazy_benchmark_builds_only_the_samples_it_runs(tmp_path):
    bench = Counting(n=1000)
    metrics = run_benchmark(bench, Echo(), tmp_path, limit=5, progress=False)
    assert bench.built == 5
    assert metrics["num_samples"] == 5
    assert metrics["tasks"]["t"]["match"] == pytest.approx(20.0)


def test_duplicate_ids_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="duplicate sample id 'same'"):
        run_benchmark(Counting(n=3, duplicate=True), Echo(), tmp_path, progress=False)


def test_rerun_resumes_and_shards_split_the_samples(tmp_path):
    run_benchmark(Counting(n=4), Echo(), tmp_path, limit=2, progress=False)
    run_benchmark(Counting(n=4), Echo(), tmp_path, progress=False)
    lines = (tmp_path / "records.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["s0", "s1", "s2", "s3"]
    run_benchmark(Counting(n=5), Echo(), tmp_path / "sharded", shard=(1, 2), progress=False)
    shard = (tmp_path / "sharded" / "records.shard1.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in shard] == ["s1", "s3"]
