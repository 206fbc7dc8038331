"""A tiny registered benchmark for runner tests: no data, one-token answers, known scores.

Sample i asks for nothing in particular; its score is 1 for even i, 0 for odd i, so a complete
run of n samples has a known average whatever the (random) model says. `FakeBenchmark.calls`
counts evaluations (resume tests), `builds` sample listings, and `interrupt_after` simulates a crash mid-run.
"""
from __future__ import annotations

from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.registry import BENCHMARKS, register_benchmark

TASKS = ("alpha", "beta")


class FakeBenchmark(Benchmark):
    name = "fake_runner"
    calls = 0
    builds = 0  # calls of samples(): the study, the preflight and the run should share one list
    interrupt_after: int | None = None

    def __init__(self, size: int = 6, tasks: list[str] | None = None, pad: int = 0, split: str = "test", **config):
        super().__init__(size=size, tasks=tasks, **config)
        tasks = list(tasks or TASKS)
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"Unknown fake task '{unknown[0]}'. Available: {', '.join(TASKS)}")
        self.size, self.tasks, self.pad, self.split = size, tasks, pad, split

    def samples(self, tokenizer):
        """Sample i: "Count to i." plus pad x (i mod 3) words, meta.length 1000 x (1 + i mod 3)."""
        FakeBenchmark.builds += 1
        for i in range(self.size):
            yield Sample(id=str(i), task=self.tasks[i % len(self.tasks)],
                         prompt=f"Count to {i}." + " more" * (self.pad * (i % 3)),
                         references=[str(i)], max_new_tokens=1, meta={"length": 1000 * (1 + i % 3)})

    def evaluate(self, sample, lm):
        if FakeBenchmark.interrupt_after is not None and FakeBenchmark.calls >= FakeBenchmark.interrupt_after:
            raise KeyboardInterrupt("simulated crash")
        FakeBenchmark.calls += 1
        return super().evaluate(sample, lm)

    def score(self, sample, prediction):
        return {"acc": 1.0 if int(sample.id) % 2 == 0 else 0.0}


if "fake_runner" not in BENCHMARKS:
    register_benchmark(FakeBenchmark)
