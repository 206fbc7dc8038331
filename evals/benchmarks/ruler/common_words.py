"""RULER's common words extraction (cwe): a numbered word list where 10 words appear `freq_cw`
times and the others `freq_ucw` times; name the 10 most common. One worked example comes first
(smaller counts below 4096 tokens, as in RULER). RULER formats the example with the model's whole
prompt template, answer prefix and answer included (after one space), then a newline, then the
question in the same template: it is an earlier exchange (`Built.history`), which `official`
renders as that text (the example's turn left to continue into its answer), `chat` as a previous
chat turn of the model's own template, and `raw` as plain text before the question.
"""
from __future__ import annotations

import random
from functools import lru_cache

from evals.benchmarks.common.splits import own_values
from evals.benchmarks.ruler.generator import Built, TaskGenerator
from evals.benchmarks.ruler.words import common_words, large_words

POOLS = {"common": common_words, "large": large_words}


@lru_cache(maxsize=None)
def split_pool(pool: str, split: str) -> tuple[str, ...]:
    """A split's half of a word pool (the large one has millions of words: filtered once)."""
    return tuple(own_values(POOLS[pool](), split))


def _numbered(words: list[str]) -> str:
    return " ".join(f"{i + 1}. {w}" for i, w in enumerate(words))


class CommonWords(TaskGenerator):
    family = "common_words_extraction"
    num_fewshot = 1
    _base: list[str] | None = None

    def pools(self) -> tuple[list[str], tuple[str, ...]]:
        """RULER's pool shuffled by the seed, and the larger pool for long lists: this split's half of each."""
        return self._shuffled_base(), split_pool("large", self.split)

    def _shuffled_base(self) -> list[str]:
        if self._base is None:
            self._base = list(split_pool("common", self.split))
            random.Random(self.seed).shuffle(self._base)
        return self._base

    def _example(self, rng: random.Random, num_words: int, common_repeats: int, uncommon_repeats: int):
        base = self._shuffled_base()
        pool = base if num_words <= len(base) else split_pool("large", self.split)
        if num_words > len(pool):
            raise ValueError(f"cwe needs {num_words} distinct words; the word pool holds {len(pool)}")
        chosen = rng.sample(pool, num_words)
        num_cw = self.args["num_cw"]
        common, uncommon = chosen[:num_cw], chosen[num_cw:]
        listed = common * common_repeats + uncommon * uncommon_repeats
        rng.shuffle(listed)
        return _numbered(listed), common

    def build(self, rng: random.Random, size: int, index: int) -> Built:
        a, num_cw = self.args, self.args["num_cw"]
        size = max(size, num_cw)
        if self.length < 4096:
            shot_args, main_args = (20, 3, 1), (size, 6, 1)
        else:
            shot_args, main_args = (40, 10, 3), (size, a["freq_cw"], a["freq_ucw"])
        shots = []
        for _ in range(self.num_fewshot):
            context, answer = self._example(rng, *shot_args)
            shots.append((self.template.format(num_cw=num_cw, context=context, query=""),
                          self.answer_prefix + " " + _numbered(answer)))
        context, answer = self._example(rng, *main_args)
        text = self.template.format(num_cw=num_cw, context=context, query="")
        return Built(text=text, answer_prefix=self.answer_prefix, answers=answer, meta={"num_words": size},
                     history=shots)
