"""The Benchmark interface every benchmark module implements.

A benchmark yields `Sample`s (prompt text already in the benchmark's template, references,
generation budget); `evaluate` turns one sample into a JSON-able record with per-sample scores;
`summarize` turns all records into metrics. Generation benchmarks only write `samples` and
`score`; scoring benchmarks (perplexity) override `evaluate`; a benchmark that another harness
drives (lm-eval) overrides `run_own_loop` instead.

A benchmark declares its options once (`options`: evals.benchmarks.options.Option), and
`Benchmark(**config)` checks them and fills the defaults into `self.config`; a benchmark that
declares none (an older plug-in) gets its config as given.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator

from evals.benchmarks.common.splits import DEFAULT_SPLIT, content_key
from evals.benchmarks.options import Option, parse_options


@dataclass
class Sample:
    id: str  # unique within a run: resume keys on it
    task: str
    prompt: str  # full prompt text in the benchmark's template, before truncation
    references: list[str]
    max_new_tokens: int
    chat: bool = True  # under prompt_format "chat": wrap in the model's chat template (LongBench leaves some raw)
    answer_prefix: str = ""  # appended after the (chat-wrapped) prompt, e.g. RULER's "Answer:"
    # earlier (user, assistant) exchanges, e.g. RULER cwe's worked example: previous chat turns
    # under a chat template, else plain text in front of the prompt (user + assistant + newline)
    history: list[tuple[str, str]] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)  # generation ends at the first of these strings
    strip: bool = True  # strip whitespace around the generated text (LongBench scores the raw text)
    meta: dict[str, Any] = field(default_factory=dict)
    prompt_format: str = "chat"  # "official" | "chat" | "raw" (evals.benchmarks.common.prompt_format); benchmarks set it
    # under "official": model family -> [text before, text after] the prompt (and each history
    # prompt), as the benchmark's script writes it; a family not named gets the bare text
    official: dict[str, list[str]] = field(default_factory=dict)
    special_tokens: bool = True  # official/raw text gets the tokenizer's own special tokens (BOS)
    # generation also ends at the last token of each of these texts (tokenized alone), after at
    # least one new token: LongBench's samsum ends at the newline token
    eos_texts: list[str] = field(default_factory=list)
    # how a prompt over max_length loses its middle (evals.benchmarks.common.lm.TRUNCATIONS): "halves" (LongBench:
    # each kept half decoded alone, a prompt that fits left as it is) or "joined" (InfiniteBench:
    # the kept tokens decoded as one sequence, and every prompt goes through that round trip)
    truncation: str = "halves"


class Benchmark:
    """Subclasses set `name` and `options` and implement `samples` and `score` (or override
    `evaluate`, or `run_own_loop`)."""

    name: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()  # every option, declared once (evals.benchmarks.options)
    groups: ClassVar[dict[str, list[str]]] = {}  # task groups the tables put above their tasks (LongBench's categories)
    lazy_samples: ClassVar[bool] = False  # True: the run streams samples instead of listing them first
    split: str = DEFAULT_SPLIT  # "dev" (tuning) or "test" (scores): the `split` option (evals.benchmarks.common.splits)

    def __init__(self, **config: Any):
        self.config = self.parse_config(config)
        if any(o.name == "split" for o in self.options):
            self.split = self.config["split"]

    @classmethod
    def parse_config(cls, config: dict) -> dict:
        """Every declared option, checked, defaults filled in (`name` is the registry's, not an
        option); a benchmark that declares none takes its config as given."""
        config = {k: v for k, v in config.items() if k != "name"}
        return parse_options(cls.name, cls.options, config) if cls.options else config

    @property
    def has_own_loop(self) -> bool:
        """Whether another harness drives this benchmark (it overrides `run_own_loop`)."""
        return type(self).run_own_loop is not Benchmark.run_own_loop

    def run_own_loop(self, lm, out_dir: Path, *, limit: int | float | None, progress: bool,
                     shard: tuple[int, int] | None) -> dict:
        """Evaluate everything with `lm` and write out_dir's records.jsonl and metrics.json;
        returns the metrics. Only a benchmark that another harness drives overrides it."""
        raise NotImplementedError(f"benchmark '{self.name}' is run by the runner's own loop")

    def validate(self) -> None:
        """Cheap checks run before the model loads (data present, hub reachable): raise ValueError
        or FileNotFoundError naming the option. The runner then also builds the samples."""

    def samples(self, tokenizer) -> Iterator[Sample]:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample_list(self, tokenizer) -> list[Sample]:
        """`samples` as a list, built once per tokenizer: the study's ETA, the preflight and the run
        share it (building 16k RULER prompts takes tens of seconds). Not for lazy benchmarks."""
        name = getattr(tokenizer, "name_or_path", None)  # the same tokenizer loaded twice builds the same samples
        key = (type(tokenizer).__name__, name, len(tokenizer)) if name else ("object", id(tokenizer))
        cache = self.__dict__.setdefault("_sample_lists", {})
        if key not in cache:
            cache[key] = list(self.samples(tokenizer))
        return cache[key]

    def sample_count(self) -> int | None:
        """How many samples `samples` will yield, when known without building them (lazy benchmarks)."""
        return None

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def content_keys(self, sample: Sample) -> list[str]:
        """What a sample's content is, for held-out checks (a preset never scores what it was fitted
        on): its pass key, needle, document... By default a hash of its prompt text."""
        return [content_key("prompt", sample.prompt)]

    def prepare(self, sample: Sample, lm) -> Sample:
        """The sample as `evaluate` sends it to the model (L-Eval cuts its document here)."""
        return sample

    def model_length(self, sample: Sample, lm) -> int:
        """Positions the model holds for this sample: its prompt's tokens as sent, plus its
        generation budget (what a method's length rule is applied to). A sample that generates
        nothing and names a `meta.length` (a perplexity window) holds that many."""
        if not sample.max_new_tokens and (sample.meta or {}).get("length"):
            return int(sample.meta["length"])
        return len(lm.prompt_ids(self.prepare(sample, lm))) + int(sample.max_new_tokens)

    def summary(self, records: list[dict]) -> dict:
        """`summarize` labelled with the split: tables keep dev runs out of the scores."""
        return {**self.summarize(records), "split": self.split}

    def evaluate(self, sample: Sample, lm) -> dict:
        """Generate for one sample and score it; returns the record written to records.jsonl."""
        prediction, prompt_tokens = lm.generate(sample)
        return self.record(sample, prediction, prompt_tokens, lm)

    def record(self, sample: Sample, prediction: str, prompt_tokens: int, lm=None) -> dict:
        """The JSON-able record of one scored sample, with the prompt format it was sent in and
        the model family that format was rendered for."""
        return {
            "id": sample.id,
            "task": sample.task,
            "prompt_tokens": prompt_tokens,
            "prediction": prediction,
            "references": sample.references,
            "scores": self.score(sample, prediction),
            "prompt_format": sample.prompt_format,
            "family": getattr(lm, "family", None),
            "meta": sample.meta,
        }

    def summarize(self, records: list[dict]) -> dict:
        """Mean of every score per task (x100 where scores are in [0, 1]) and their average."""
        per_task: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for record in records:
            for metric, value in record["scores"].items():
                per_task[record["task"]][metric].append(float(value))
        tasks = {
            task: {metric: 100.0 * sum(v) / len(v) for metric, v in metrics.items()}
            for task, metrics in sorted(per_task.items())
        }
        main = [next(iter(m.values())) for m in tasks.values() if m]
        return {"tasks": tasks, "average": sum(main) / len(main) if main else None, "num_samples": len(records)}
