"""The RULER benchmark: its 13 synthetic tasks generated locally at any length with the model's
own tokenizer, scored with RULER's string-match metrics, summarized as the RULER table.

`prompt_format=official` wraps each prompt as RULER's scripts do for the model's family
(constants.OFFICIAL_TEMPLATES; cwe's worked example wrapped the same way, as an earlier exchange
in the same text), `chat` in the model's own chat template (the worked example as an earlier
chat turn), `raw` not at all (RULER's `base` template).

`split` (evals.benchmarks.common.splits): dev samples ("<task>-dev-<length>-<index>") take seeds with "dev" mixed
in, every key, value, variable name and word from the dev half of each value space (by hash; the
test half for test), QA questions from the dev half of the questions, and the essays from the
first paragraph break after their middle: no dev prompt shares a key, a value or its essay text
(up to ~85k tokens) with a test prompt.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Iterator

from evals.benchmarks.base import Benchmark, Sample
from evals.benchmarks.common import match_metrics
from evals.benchmarks.common.haystack import DEFAULT_ESSAYS, essays_available, load_essays, words
from evals.benchmarks.common.sizing import PromptCounter
from evals.benchmarks.common.splits import DEFAULT_SPLIT, rotate_half
from evals.benchmarks.options import PROMPT_FORMAT, SPLIT, Option, lengths, max_length
from evals.benchmarks.registry import register_benchmark
from evals.benchmarks.ruler.common_words import CommonWords
from evals.benchmarks.ruler.constants import FAMILIES, OFFICIAL_TEMPLATES, TASKS
from evals.benchmarks.ruler.freq_words import FreqWords
from evals.benchmarks.ruler.generator import FittedTask, TaskGenerator
from evals.benchmarks.ruler.niah import Niah
from evals.benchmarks.ruler.qa import QA
from evals.benchmarks.ruler.variable_tracking import VariableTracking
from evals.benchmarks.ruler.words import word_lists

GENERATORS: dict[str, type[TaskGenerator]] = {
    g.family: g for g in (Niah, VariableTracking, CommonWords, FreqWords, QA)
}
METRICS = {"string_match_all": match_metrics.string_match_all, "string_match_part": match_metrics.string_match_part}
SMALL_TASKS = [t for t, (family, _) in TASKS.items() if family != "qa"]  # the 11 that need no download
QA_DATA = ("squad", "hotpotqa")


def _qa_data(value: dict | None) -> dict | None:
    unknown = sorted(set(value or {}) - set(QA_DATA))
    if unknown:
        raise ValueError(f"Unknown RULER qa_data key '{unknown[0]}'. Valid: {', '.join(QA_DATA)}")
    return value


LISTED_AT_MOST = 256  # samples; a run with more streams them instead of listing them first


@register_benchmark
class Ruler(Benchmark):
    name = "ruler"
    options = (
        max_length(),
        Option("tasks", SMALL_TASKS, "strs", choices=tuple(TASKS), min_items=1, doc="RULER's task names"),
        lengths([4096, 8192]),
        Option("num_samples", 1, "int", low=1, doc="per task per length (RULER: 500)"),
        Option("seed", 42, "int"),
        Option("haystack", DEFAULT_ESSAYS, "str", null=True, doc="essay tasks' text; missing: RULER's noise haystack"),
        Option("qa_data", {"squad": None, "hotpotqa": None}, "mapping", null=True, check=_qa_data,
               doc="RULER's downloads: SQuAD v2 dev-v2.0.json, hotpot_dev_distractor_v1.json"),
        PROMPT_FORMAT,
        SPLIT,
    )

    def __init__(self, **config):
        super().__init__(**config)
        c = self.config
        self.tasks = c["tasks"]
        self.lengths = c["lengths"]
        self.num_samples = c["num_samples"]
        self.seed = c["seed"]
        self.prompt_format = c["prompt_format"]
        self.qa_data = dict(c["qa_data"] or {})
        for task in self.tasks:  # fail before any model work when QA data is missing
            family, args = TASKS[task]
            if family == "qa":
                QA(task, args, length=self.lengths[0], seed=self.seed, qa_data=self.qa_data,
                   split=self.split).own_questions()
        self.essay_words = self._essay_words(c["haystack"], self.split)
        self._fitted: dict[tuple[str, int], FittedTask] = {}

    @staticmethod
    def _essay_words(haystack, split: str = DEFAULT_SPLIT) -> list[str] | None:
        if haystack is None:
            return None
        if not essays_available(haystack):
            if haystack != DEFAULT_ESSAYS:
                load_essays(haystack)  # raises, naming the bad path
            warnings.warn(f"RULER: no essays at {haystack}; essay tasks use the noise haystack")
            return None
        text = load_essays(haystack)
        return words(rotate_half(text) if split == "dev" else text)

    def fitted(self, task: str, length: int, tokenizer) -> FittedTask:
        key = (task, length)
        if key not in self._fitted:
            family, args = TASKS[task]
            generator = GENERATORS[family](task, args, length=length, seed=self.seed,
                                           essay_words=self.essay_words, qa_data=self.qa_data, split=self.split)
            counter = PromptCounter(tokenizer, self.prompt_format, official=OFFICIAL_TEMPLATES)
            self._fitted[key] = FittedTask(generator, counter)
        return self._fitted[key]

    @property
    def lazy_samples(self) -> bool:
        """The full preset (tens of thousands of prompts up to 128k tokens) streams; a small one is
        listed once and shared by the preflight and the run."""
        return self.sample_count() > LISTED_AT_MOST


    def sample_count(self) -> int:
        return len(self.lengths) * self.num_samples * len(self.tasks)

    def samples(self, tokenizer) -> Iterator[Sample]:
        """Length by length, sample index by index, every task: a small limit still spans tasks."""
        for length in self.lengths:
            for index in range(self.num_samples):
                for task in self.tasks:
                    yield self.fitted(task, length, tokenizer).sample(index)

    def content_keys(self, sample: Sample) -> list[str]:
        """The answers (values, variables, words) and the keys asked for."""
        return [f"ruler:{v}" for v in [*sample.references, *(sample.meta or {}).get("keys", [])]]

    def score(self, sample: Sample, prediction: str) -> dict[str, float]:
        metric = FAMILIES[TASKS[sample.task][0]]["metric"]
        return {metric: METRICS[metric](match_metrics.ruler_postprocess(prediction), sample.references)}

    def summarize(self, records: list[dict]) -> dict:
        """RULER's table: score x100 per task per length, the task average per length, and overall."""
        cells: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in records:
            cells[r["task"]][int(r["meta"]["length"])].append(float(next(iter(r["scores"].values()))))
        tasks = {t: {str(n): 100.0 * sum(v) / len(v) for n, v in sorted(by_len.items())}
                 for t, by_len in sorted(cells.items(), key=lambda kv: list(TASKS).index(kv[0]))}
        lengths = sorted({n for by_len in cells.values() for n in by_len})
        per_length = {}
        for n in lengths:
            scores = [t[str(n)] for t in tasks.values() if str(n) in t]
            per_length[str(n)] = sum(scores) / len(scores)
        overall = sum(per_length.values()) / len(per_length) if per_length else None
        return {"tasks": tasks, "average_per_length": per_length, "average": overall, "num_samples": len(records),
                "word_source": word_lists()[3]}  # "wonderwords" (RULER's) or "lampe" (our stand-in lists)
