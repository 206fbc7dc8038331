"""What a RULER task generator is, and how its haystack is sized to a target length.

A generator builds one prompt from a seeded `random.Random` and a haystack size (noise sentences,
essay words, list words or documents). Like RULER's scripts, the size is found once per task and
length by binary search so that the prompt, as the model will see it (in the run's prompt format,
answer prefix included), plus the generation budget fits the target length; each sample then
shrinks its haystack by the task's increment until it fits too.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from evals.benchmarks.base import Sample
from evals.benchmarks.common.sizing import PromptCounter, derive_seed, fit_size
from evals.benchmarks.common.splits import DEFAULT_SPLIT, draw, sample_id, split_parts
from evals.benchmarks.ruler.constants import FAMILIES
from evals.benchmarks.ruler.words import random_letters, random_value


@dataclass
class Built:
    text: str  # the prompt up to (not including) the answer prefix
    answer_prefix: str
    answers: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    # worked examples as earlier exchanges: chat turns, or (official, raw) text before the prompt
    history: list[tuple[str, str]] = field(default_factory=list)


class TaskGenerator:
    """Subclasses set `family` and implement `build`; `incremental` is RULER's shrink step."""

    family: ClassVar[str]
    counter: "PromptCounter | None" = None  # set by FittedTask, for generators that size sub-parts

    def __init__(self, task: str, args: dict, *, length: int, seed: int, essay_words: list[str] | None = None,
                 qa_data: dict | None = None, split: str = DEFAULT_SPLIT):
        self.task = task
        self.args = dict(args)
        self.length = length
        self.seed = seed
        self.split = split  # every key, value and name comes from this split's half (evals.benchmarks.common.splits)
        self.essay_words = essay_words  # None: essay tasks fall back to the noise haystack
        self.qa_data = qa_data or {}
        spec = FAMILIES[self.family]
        self.template: str = spec["template"]
        self.answer_prefix: str = spec["answer_prefix"]
        self.tokens_to_generate: int = spec["tokens_to_generate"]

    def incremental(self) -> int:
        return 10

    def haystack_type(self) -> str:
        wanted = self.args.get("type_haystack", "noise")
        return "noise" if wanted == "essay" and not self.essay_words else wanted

    def essay_text(self, size: int) -> str:
        """The first `size` essay words (repeated when the essays are shorter), as RULER cuts them."""
        words = self.essay_words
        repeats = -(-size // len(words))
        return " ".join((words * repeats)[:size])

    def build(self, rng: random.Random, size: int, index: int) -> Built:  # pragma: no cover - abstract
        raise NotImplementedError

    def value(self, rng: random.Random, kind: str) -> str:
        """A needle key or value of `kind` (numbers, words, uuids) from this split's half."""
        return draw(rng, lambda r: random_value(r, kind), self.split)

    def letters(self, rng: random.Random, length: int, alphabet: str | None = None) -> str:
        """A random name of `length` letters from this split's half."""
        return draw(rng, lambda r: random_letters(r, length, *([alphabet] if alphabet else [])), self.split)

    def number(self, rng: random.Random, low: int, high: int) -> str:
        return draw(rng, lambda r: str(r.randint(low, high)), self.split)

    def seed_parts(self, *parts: Any) -> tuple:
        """Seed parts under this split: test as they always were, dev with 'dev' mixed in."""
        return (self.seed, self.task, *split_parts(self.split, *parts))


class FittedTask:
    """One task at one length: the fitted haystack size and its seeded samples."""

    def __init__(self, generator: TaskGenerator, counter: PromptCounter):
        self.generator = generator
        self.counter = generator.counter = counter
        self.budget = generator.length - generator.tokens_to_generate
        # "just below the length": stop searching within 0.5% (RULER stops within one haystack step)
        self.tolerance = max(8, self.budget // 200)
        self._size: int | None = None

    def _rng(self, *parts: Any) -> random.Random:
        g = self.generator
        return random.Random(derive_seed(*g.seed_parts(g.length, *parts)))

    def _tokens(self, built: Built) -> int:
        return self.counter(built.text, built.answer_prefix, built.history)

    @property
    def size(self) -> int:
        if self._size is None:
            g = self.generator
            size = fit_size(lambda n: self._tokens(g.build(self._rng("fit"), n, 0)), self.budget,
                            g.incremental(), self.tolerance)
            if size is None:
                shortest = self._tokens(g.build(self._rng("fit"), 1, 0))
                raise ValueError(
                    f"RULER task '{g.task}': length {g.length} is too short; its shortest prompt takes "
                    f"{shortest} tokens plus {g.tokens_to_generate} to generate"
                )
            self._size = size
        return self._size

    def sample(self, index: int) -> Sample:
        """Sample `index`, its haystack re-fitted from the task's size (its own draws change the length)."""
        g = self.generator
        tried: dict[int, tuple[Built, int]] = {}

        def tokens_at(n: int) -> int:
            built = g.build(self._rng(index), n, index)
            tried[n] = built, self._tokens(built)
            return tried[n][1]

        size = fit_size(tokens_at, self.budget, self.size, self.tolerance)
        if size is None:
            raise ValueError(f"RULER task '{g.task}' sample {index} cannot fit length {g.length}")
        built, tokens = tried[size]
        meta = {"length": g.length, "depth": None, **built.meta, "haystack_size": size, "prompt_tokens": tokens}
        return Sample(
            id=sample_id(g.task, g.split, g.length, index),
            task=g.task,
            prompt=built.text,
            references=list(built.answers),
            max_new_tokens=g.tokens_to_generate,
            answer_prefix=built.answer_prefix,
            history=list(built.history),
            meta=meta,
            **self.counter.fields,
        )


def depth_percent(context: str, needle: str) -> float | None:
    """Where `needle` starts in `context`, in percent of its characters (None if absent)."""
    at = context.find(needle)
    return None if at < 0 else round(100.0 * at / max(len(context), 1), 1)
